// `npm run bench:swarm`: the seed chapter (the workshop's btp-manual) typed on the 3-node Swarm of
// test/e2e/cluster.ts, for the original stack (stand-ins built by bench/original/Dockerfile from
// the workshop's code) and then ours, on the same cluster, each on nodes emptied of images. No
// IPVS here: every service uses --endpoint-mode dnsrr, the web UI a host-mode port. Writes
// bench/results/swarm-<time>.json and the "Side by side on Swarm" section of bench/README.md.
// Not run in CI: about 15 minutes.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { dockerCli, publishedUrl, readCounters, measureRate, type Counters } from '../src/cli/swarm.js';
import { appServices, expectedPlateau, network } from '../src/cli/lab/swarm-chapter.js';
import { repositoryRoot as root } from '../src/lib/paths.js';
import { sleep } from '../src/lib/sleep.js';
import { waitUntil } from '../src/lib/wait.js';
import { nodeHosts, registry, startCluster, swarm } from '../test/e2e/cluster.js';
import { buildInfoArgs } from '../src/cli/compose.js';
import { benchDir, machine, median, runBench, updateReadmeSection } from './report.js';
import { FIRST_MINUTE_S, REACHED, renderSideBySide, WINDOW_S, type PeerResult } from './swarm-side-by-side-render.js';

const shared = process.env.SHARED ?? path.resolve(root, '../shared');
const MB = 1e6;
const minutes = (n: number) => n * 60_000;

interface Peer {
  name: 'original' | 'ours';
  dockerfile: string;
  context: string;
  buildArgs: Record<string, string>;
  /** An error or warning line of its worker's log. */
  isProblem: (line: string) => boolean;
}


const image = (peer: Peer, service: string) => `${registry}/${peer.name}-${service}:bench`;
const seconds = (since: number) => (performance.now() - since) / 1000;
const onNodes = (args: string[]) => Promise.all(nodeHosts.map(({ host }) => dockerCli(args, { host })));

async function buildAndPush(peer: Peer): Promise<void> {
  const args = Object.entries(peer.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  for (const service of appServices) {
    console.log(`${peer.name}: building and pushing ${service}`);
    await dockerCli(['build', '-q', '-f', peer.dockerfile, ...args, '--target', service, '-t', image(peer, service), peer.context]);
    await dockerCli(['push', image(peer, service)]);
  }
}

/** Image sizes on this host, and what a node pulls for the four: their registry layers, each once (compressed). */
async function sizes(peer: Peer): Promise<{ imageMB: Record<string, number>; pulledMB: number }> {
  const imageMB: Record<string, number> = {};
  const layers = new Map<string, number>();
  for (const service of appServices) {
    imageMB[service] = Number(await dockerCli(['image', 'inspect', '--format', '{{.Size}}', image(peer, service)])) / MB;
    const res = await fetch(`http://${registry}/v2/${peer.name}-${service}/manifests/bench`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
    const manifest = (await res.json()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
    for (const blob of [manifest.config, ...manifest.layers]) layers.set(blob.digest, blob.size);
  }
  return { imageMB, pulledMB: [...layers.values()].reduce((a, b) => a + b, 0) / MB };
}

/** Redis's `hashes`, read inside the redis container on its node (the web UI is not published yet). */
async function redisHashes(): Promise<number> {
  for (const { host } of nodeHosts) {
    const id = (await dockerCli(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=redis'], { host })).trim().split('\n')[0];
    if (id) return Number(await dockerCli(['exec', id, 'redis-cli', 'GET', 'hashes'], { host })) || 0;
  }
  throw new Error('no redis container');
}

/** Seconds from `since` until the web UI's counter rises at `target` hashes/s or more over WINDOW_S. */
async function rateReached(webui: string, target: number, since: number): Promise<number> {
  const samples: Counters[] = [];
  return waitUntil(`${target.toFixed(1)} hashes/s`, async () => {
    const last = await readCounters(webui);
    samples.push(last);
    const first = samples.find((s) => s.now >= last.now - WINDOW_S);
    if (!first || last.now - first.now < WINDOW_S - 1) return undefined;
    const rate = (last.hashes - first.hashes) / (last.now - first.now);
    if (rate >= target) return seconds(since);
    throw new Error(`${rate.toFixed(1)} hashes/s`);
  }, { timeoutMs: minutes(4), everyMs: 500 });
}

/** Memory of each service's containers (docker stats on every node), the median per service, MB. */
async function memory(): Promise<Record<string, number>> {
  const lines = (await onNodes(['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}'])).flatMap((out) => out.split('\n').filter(Boolean));
  const units: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };
  const byService = new Map<string, number[]>();
  for (const line of lines) {
    const [name = '', usage = ''] = line.split('\t');
    const m = /^([\d.]+)(\w+)/.exec(usage);
    if (!m) continue;
    const service = name.split('.')[0]!;
    byService.set(service, [...(byService.get(service) ?? []), (Number(m[1]) * units[m[2]!]!) / MB]);
  }
  return Object.fromEntries([...byService].map(([service, mbs]) => [service, median(mbs)]));
}

/** The worker's log lines written within FIRST_MINUTE_S of `createdAt` (ms since the epoch) that are errors or warnings. */
async function workerProblems(peer: Peer, createdAt: number): Promise<string[]> {
  const logs = await execa('docker', ['service', 'logs', '--raw', '--timestamps', 'worker'], { env: { DOCKER_HOST: nodeHosts[0]!.host }, all: true });
  return String(logs.all)
    .split('\n')
    .map((line) => /^(\S+) (.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && Date.parse(m[1]!) <= createdAt + FIRST_MINUTE_S * 1000)
    .map((m) => m[2]!)
    .filter(peer.isProblem);
}

/** Removes every service and the network, the tasks' containers, and every image on the nodes: the next peer pulls all it needs. */
async function clearNodes(): Promise<void> {
  const services = (await swarm(['service', 'ls', '-q'])).split('\n').filter(Boolean);
  if (services.length) await swarm(['service', 'rm', ...services]);
  await waitUntil('the tasks to stop', async () => ((await onNodes(['ps', '-q'])).every((out) => out.trim() === '') ? true : undefined), { timeoutMs: minutes(2) });
  await swarm(['network', 'rm', network]).catch(() => {});
  await onNodes(['container', 'prune', '--force']);
  await onNodes(['image', 'prune', '--all', '--force']);
}

type Create = (service: string, ...args: string[]) => Promise<string>;

/**
 * The chapter's "Run the other services": creates the four, then waits for Redis's counter to
 * rise and for the first minute of the worker's log. Returns the seconds to the first hash and
 * the worker's error or warning lines in that minute.
 */
async function startServices(peer: Peer, create: Create): Promise<{ firstHashS: number; problems: string[] }> {
  const counted = await redisHashes();
  const created = performance.now();
  let workerCreatedAt = 0;
  for (const service of appServices) {
    if (service === 'worker') workerCreatedAt = Date.now();
    await create(service);
  }
  const firstHashS = await waitUntil('the first hash', async () => ((await redisHashes()) > counted ? seconds(created) : undefined), { timeoutMs: minutes(4), everyMs: 250 });
  // The first minute of the worker's log, before anything more happens to the stack.
  await sleep(Math.max(0, workerCreatedAt + FIRST_MINUTE_S * 1000 - Date.now()) + 2000);
  return { firstHashS, problems: await workerProblems(peer, workerCreatedAt) };
}

/** Seconds from `docker service update webui --publish-add` to its /json answering there, and where. */
async function publishWebui(): Promise<{ webui: string; publishToAnswerS: number }> {
  const published = performance.now();
  await swarm(['service', 'update', 'webui', '--detach', '--publish-add', 'published=8000,target=80,mode=host']);
  const webui = await waitUntil('the web UI on its published port', async () => {
    const url = await publishedUrl(swarm, 'webui', 8000, 'host');
    await readCounters(url);
    return url;
  }, { timeoutMs: minutes(4), everyMs: 250 });
  return { webui, publishToAnswerS: seconds(published) };
}

/** The chapter's steps for one peer, from nodes without images; then its start again, the images on the nodes. */
async function runChapter(peer: Peer, redisImage: string): Promise<PeerResult> {
  await clearNodes();
  const create: Create = (service, ...args) =>
    swarm(['service', 'create', '--network', network, '--detach=true', '--endpoint-mode', 'dnsrr', ...args, '--name', service, service === 'redis' ? redisImage : image(peer, service)]);
  await swarm(['network', 'create', '--driver', 'overlay', network]);
  await create('redis');
  await waitUntil('redis', async () => ((await redisHashes()) >= 0 ? true : undefined), { timeoutMs: minutes(2) });

  const start = await startServices(peer, create);
  console.log(`${peer.name}: service create → first hash ${start.firstHashS.toFixed(1)} s; ${start.problems.length} error or warning line(s)`);
  const idleMemoryMB = await memory();
  const { webui, publishToAnswerS } = await publishWebui();
  console.log(`${peer.name}: publish-add → web UI answers ${publishToAnswerS.toFixed(1)} s`);

  const scaled = performance.now();
  await swarm(['service', 'update', 'worker', '--detach', '--replicas', '10']);
  const plateauReachedS = await rateReached(webui, REACHED * expectedPlateau, scaled);
  const plateau = (await measureRate(webui, 15)).rate;
  console.log(`${peer.name}: 10 workers → plateau reached ${plateauReachedS.toFixed(1)} s; plateau ${plateau.toFixed(2)} hashes/s`);

  const global = performance.now();
  await swarm(['service', 'rm', 'rng']);
  await create('rng', '--mode', 'global');
  const globalReachedS = await rateReached(webui, REACHED * nodeHosts.length * plateau, global);
  const globalRate = (await measureRate(webui, 15)).rate;
  console.log(`${peer.name}: rng global → ×${nodeHosts.length} reached ${globalReachedS.toFixed(1)} s; ${globalRate.toFixed(2)} hashes/s`);

  await swarm(['service', 'rm', ...appServices]);
  await waitUntil("the services' tasks to stop", async () => ((await onNodes(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=worker'])).every((out) => out.trim() === '') ? true : undefined), { timeoutMs: minutes(2) });
  const again = await startServices(peer, create);
  console.log(`${peer.name}: again, images on the nodes: service create → first hash ${again.firstHashS.toFixed(1)} s; ${again.problems.length} error or warning line(s)`);

  await clearNodes();
  return {
    createToFirstHashS: start.firstHashS,
    cachedCreateToFirstHashS: again.firstHashS,
    publishToAnswerS,
    plateauReachedS,
    plateau,
    globalReachedS,
    globalRate,
    workerProblemLines: start.problems,
    cachedWorkerProblemLines: again.problems,
    idleMemoryMB,
    ...(await sizes(peer)),
  };
}

async function main() {
  const nodeImage = process.env.NODE_IMAGE || 'node:24-bookworm-slim';
  const peers: Peer[] = [
    {
      name: 'original',
      dockerfile: path.join(benchDir, 'original/Dockerfile'),
      context: path.join(shared, 'workshop/dockercoins'),
      buildArgs: { DEBIAN_IMAGE: process.env.DEBIAN_IMAGE || 'debian:bookworm', NODE_IMAGE: nodeImage },
      // Python's logging: "LEVEL:logger:message"; a traceback's lines follow its ERROR line.
      isProblem: (line) => /^(WARNING|ERROR|CRITICAL):/.test(line),
    },
    {
      name: 'ours',
      dockerfile: path.join(root, 'Dockerfile'),
      context: root,
      buildArgs: { NODE_IMAGE: nodeImage, ...(await buildInfoArgs()) },
      // pino: warn is 40, error 50, fatal 60.
      isProblem: (line) => /"level":([4-9]\d)/.test(line),
    },
  ];
  const redisImage = await startCluster();
  const started = Date.now();
  for (const peer of peers) await buildAndPush(peer);
  const results: Record<string, PeerResult> = {};
  for (const peer of peers) results[peer.name] = await runChapter(peer, redisImage);
  const minutesTaken = (Date.now() - started) / 60_000;
  const measured = `Measured ${new Date(started).toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machine()}, by \`npm run bench:swarm\` (${minutesTaken.toFixed(0)} min), Node base image \`${nodeImage}\``;
  await mkdir(path.join(benchDir, 'results'), { recursive: true });
  const file = path.join(benchDir, 'results', `swarm-${new Date(started).toISOString().replaceAll(':', '-')}.json`);
  await writeFile(file, JSON.stringify({ measured, results }, null, 2));
  const section = renderSideBySide(results, measured);
  await updateReadmeSection('Side by side on Swarm', section);
  console.log(`\n${section}\n\nwritten: ${path.relative(process.cwd(), file)}, bench/README.md`);
}

await runBench(main);
