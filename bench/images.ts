// `npm run bench:images`: the four images built by docker-compose.yml (on NODE_IMAGE when set),
// their sizes (each, and all four together: `docker save` writes each shared layer once), the
// Compose stack's start → healthy times (median of 3 `up`s, from the engine's events) and each
// container's idle memory. Writes bench/results/images-<time>.json and the "Images" section of
// bench/README.md.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import { dockerCli } from '../src/cli/swarm.js';
import { sleep } from '../src/lib/sleep.js';
import { waitUntil } from '../src/lib/wait.js';
import { builtServices, composeStack, followEvents, inspectContainers } from '../test/helpers/compose.js';
import { benchDir, machine, median, runBench, updateReadmeSection } from './report.js';

const ROUNDS = 3;
/**
 * How long the stack runs (1 worker, workshop pace) before its memory is read: V8 hands back
 * the garbage of start-up 15-25 s after start (npm run bench), so well after that.
 */
const IDLE_SECONDS = 30;
const MB = 1e6;

interface Saved {
  /** The tar `docker save` writes: each layer once, uncompressed. */
  bytes: number;
  /** The same gzipped, about what a pull transfers. */
  gzipBytes: number;
}

interface ImageSize {
  /** As `docker images` shows it. */
  bytes: number;
  saved: Saved;
}

/** Sizes of `docker save <images>`, raw and gzipped, in one pass. */
async function savedSize(images: string[]): Promise<Saved> {
  const save = execa('docker', ['save', ...images], { buffer: false, stdout: 'pipe' });
  let bytes = 0;
  let gzipBytes = 0;
  const counter = (add: (n: number) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        add(chunk.length);
        done();
      },
    });
  const gzip = createGzip();
  const stdout = save.stdout as Readable;
  stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await Promise.all([pipeline(stdout, gzip, counter((n) => (gzipBytes += n))), save]);
  return { bytes, gzipBytes };
}

async function imageSize(image: string): Promise<ImageSize> {
  return { bytes: Number(await dockerCli(['image', 'inspect', '--format', '{{.Size}}', image])), saved: await savedSize([image]) };
}

async function main() {
  const baseImage = process.env.NODE_IMAGE || 'node:24-alpine';
  const stack = await composeStack(`dockercoins-bench-${process.pid}`);
  const events = followEvents(stack.project);
  try {
    console.log('building the images (docker-compose build)');
    await stack.compose('build');
    const images = builtServices.map((s) => `dockercoins_${s}`);
    console.log('measuring image sizes (docker save | gzip)');
    const sizes: Record<string, ImageSize> = {};
    for (const image of images) sizes[image] = await imageSize(image);
    const allFour = await savedSize(images);
    const base = await imageSize(baseImage);

    const startToHealthy: Record<string, number[]> = {};
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`start → healthy, round ${round}/${ROUNDS}`);
      const since = events.events.length;
      await stack.compose('up', '-d');
      const ids = await stack.containers();
      await waitUntil('every container healthy', async () => {
        const states = await inspectContainers(ids);
        return states.every((c) => c.health === 'healthy') ? true : undefined;
      }, { timeoutMs: 60_000, everyMs: 250 });
      // The engine reports the event a moment after the status changes.
      const fresh = await waitUntil('the health events', async () => {
        const e = events.events.slice(since);
        return ids.every((id) => e.some((x) => x.id === id && x.action === 'health_status: healthy')) ? e : undefined;
      }, { timeoutMs: 10_000, everyMs: 200 });
      for (const id of ids) {
        const start = fresh.find((e) => e.id === id && e.action === 'start')!;
        const healthy = fresh.find((e) => e.id === id && e.action === 'health_status: healthy')!;
        (startToHealthy[start.service] ??= []).push(healthy.ms - start.ms);
      }
      if (round < ROUNDS) await stack.compose('down', '-v', '--timeout', '5');
    }

    console.log(`idle memory after ${IDLE_SECONDS} s`);
    await sleep(IDLE_SECONDS * 1000);
    const memory: Record<string, { cgroupMB: number; rssMB: number }> = {};
    const containers = await inspectContainers(await stack.containers());
    const stats = (await dockerCli(['stats', '--no-stream', '--format', '{{json .}}', ...containers.map((c) => c.id)]))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { Name: string; MemUsage: string });
    for (const c of containers) {
      const mem = stats.find((x) => x.Name === c.name)!.MemUsage;
      const status = await dockerCli(['exec', c.id, 'cat', '/proc/1/status']);
      memory[c.service] = {
        cgroupMB: parseDockerSize(mem.split('/')[0]!) / MB,
        rssMB: Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024 / MB,
      };
    }

    const result = {
      date: new Date().toISOString(),
      machine: machine(),
      dockerVersion: (await dockerCli(['version', '--format', '{{.Server.Version}}'])).trim(),
      baseImage,
      redisImage: process.env.REDIS_IMAGE || 'redis',
      base,
      sizes,
      allFour,
      startToHealthyMs: Object.fromEntries(Object.entries(startToHealthy).map(([s, xs]) => [s, median(xs)])),
      memory,
    };
    const resultsDir = path.join(benchDir, 'results');
    await mkdir(resultsDir, { recursive: true });
    const jsonFile = path.join(resultsDir, `images-${result.date.replaceAll(':', '-')}.json`);
    await writeFile(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
    const table = render(result);
    await updateReadmeSection('Images', table);
    console.log(`\n${table}\n\nwritten: ${path.relative(process.cwd(), jsonFile)}, bench/README.md (section "Images")`);
  } finally {
    events.stop();
    await stack.down();
  }
}

/** docker stats' sizes: "12.5MiB", "1.2GiB", "512KiB", "100B". */
function parseDockerSize(text: string): number {
  const m = /^([\d.]+)\s*([KMG]i?)?B$/.exec(text.trim());
  if (!m) throw new Error(`unexpected size from docker stats: ${text}`);
  const unit = m[2] ?? '';
  const factor = unit.endsWith('i') ? 1024 ** ('KMG'.indexOf(unit[0]!) + 1) : 1000 ** ('KMG'.indexOf(unit[0]!) + 1);
  return Number(m[1]) * (unit ? factor : 1);
}

function render(r: {
  date: string;
  machine: string;
  dockerVersion: string;
  baseImage: string;
  redisImage: string;
  base: ImageSize;
  sizes: Record<string, ImageSize>;
  allFour: Saved;
  startToHealthyMs: Record<string, number>;
  memory: Record<string, { cgroupMB: number; rssMB: number }>;
}): string {
  const mb = (n: number) => (n / MB).toFixed(1);
  const lines = [
    `Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${r.machine}, Docker ${r.dockerVersion}, by \`npm run bench:images\`, base image \`${r.baseImage}\`.`,
    '',
    '| image | size (MB) | gzipped (MB) | on top of the base (MB) | start → healthy (ms, median of 3) | idle RSS of PID 1 (MB) | idle memory, docker stats (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of builtServices) {
    const size = r.sizes[`dockercoins_${s}`]!;
    const m = r.memory[s]!;
    lines.push(`| dockercoins_${s} | ${mb(size.bytes)} | ${mb(size.saved.gzipBytes)} | ${mb(size.bytes - r.base.bytes)} | ${Math.round(r.startToHealthyMs[s]!)} | ${m.rssMB.toFixed(1)} | ${m.cgroupMB.toFixed(1)} |`);
  }
  const redis = r.memory.redis!;
  lines.push(
    `| all four (unique layers, \`docker save\`) | ${mb(r.allFour.bytes)} | ${mb(r.allFour.gzipBytes)} | ${mb(r.allFour.bytes - r.base.saved.bytes)} | | | |`,
    `| base \`${r.baseImage}\` | ${mb(r.base.bytes)} | ${mb(r.base.saved.gzipBytes)} | | | | |`,
    `| redis (\`${r.redisImage}\`) | | | | ${Math.round(r.startToHealthyMs.redis!)} | ${redis.rssMB.toFixed(1)} | ${redis.cgroupMB.toFixed(1)} |`,
    '',
    'Start → healthy: from the engine\'s `start` event to its `health_status: healthy` event; the first health check runs one interval (5 s) after start, which Docker 20.10 cannot shorten (`--start-interval` needs Docker 25), so these figures are that interval plus the check itself. Idle: the Compose stack with 1 worker, ' +
      `${IDLE_SECONDS} s after every container was healthy (the worker working at the workshop's pace); RSS of PID 1 (node; redis-server for redis) from /proc, and the container's memory as \`docker stats\` counts it (about the process's anonymous memory: RSS also counts the ~46 MB of the node binary mapped from the image, page cache that every container on the same base shares).`,
  );
  return lines.join('\n');
}

await runBench(main);
