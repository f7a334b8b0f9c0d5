// `npm run bench:images`: the four images built by docker-compose.yml (on NODE_IMAGE when set),
// their sizes (each, and all four together: `docker save` writes each shared layer once), the
// Compose stack's start → healthy times (median of 3 `up`s, from the engine's events), each
// container's idle memory beside the same stack on Node's default memory settings
// (bench/node-defaults.yml), and the host CPU that health checking costs: the stack with 15
// containers, with its health checks and without (bench/no-healthcheck.yml), each for
// BENCH_HEALTH_SECONDS (default 180; bench/health-checks.ts). Writes bench/results/images-<time>.json and the "Images"
// and "Health checks" sections of bench/README.md.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { execa } from 'execa';
import { dockerCli, measureRate, readCounters } from '../src/cli/swarm.js';
import { sleep } from '../src/lib/sleep.js';
import { waitUntil } from '../src/lib/wait.js';
import { builtServices, composeStack, followEvents, inspectContainers, type ComposeStack } from '../src/cli/compose.js';
import { benchDir, machine, median, runBench, updateReadmeSection } from './report.js';
import { dockerCpu, type CpuSample } from './docker-cpu.js';
import { HEALTH_CONTAINERS, HEALTH_SECONDS, inspectHealthchecks, pct, renderHealth, stackCpu, type HealthChecks } from './health-checks.js';

const ROUNDS = 3;
/**
 * How long the stack runs (1 worker, workshop pace) before its memory is read: V8 hands back
 * the garbage of start-up 15-25 s after start (npm run bench), so well after that.
 */
const IDLE_SECONDS = 30;
const MB = 1e6;
const RATE_SECONDS = 30; // hashes/s at 10 workers: over this long, as long after scaling

type Memory = Record<string, { cgroupMB: number; rssMB: number }>;
type Rates = { oneWorker: number[]; tenWorkers: number[] }; // hashes/s: ours, then Node's defaults

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
  const baseImage = process.env.NODE_IMAGE || 'node:24-bookworm-slim';
  const stack = await composeStack(`dockercoins-bench-${process.pid}`);
  const events = followEvents(stack.project);
  try {
    console.log('building the images (docker-compose build)');
    await stack.compose('build');
    const { sizes, allFour, base } = await imageSizes(baseImage);
    const startToHealthy = await startToHealthyTimes(stack, events);
    const { memory, defaultMemory, paceCpu, defaultPaceCpu, rates } = await besideNodeDefaults(stack);
    const healthChecks = await healthCheckCost(stack);
    await writeResult({
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
      defaultMemory,
      paceCpu: { seconds: IDLE_SECONDS, ours: paceCpu, defaults: defaultPaceCpu },
      rates,
      healthChecks,
    });
  } finally {
    events.stop();
    await stack.down();
  }
}

/** Each built image's size, the four together and the base image's. */
async function imageSizes(baseImage: string): Promise<Pick<Result, 'sizes' | 'allFour' | 'base'>> {
  const images = builtServices.map((s) => `dockercoins_${s}`);
  console.log('measuring image sizes (docker save | gzip)');
  const sizes: Record<string, ImageSize> = {};
  for (const image of images) sizes[image] = await imageSize(image);
  const allFour = await savedSize(images);
  const base = await imageSize(baseImage);
  return { sizes, allFour, base };
}

/** Per service, start → healthy in each of ROUNDS `up`s, from the engine's events; the stack is left up. */
async function startToHealthyTimes(stack: ComposeStack, events: ReturnType<typeof followEvents>): Promise<Record<string, number[]>> {
  const startToHealthy: Record<string, number[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`start → healthy, round ${round}/${ROUNDS}`);
    const since = events.events.length;
    await stack.compose('up', '-d');
    // The worker's image has no health check.
    const ids = (await inspectContainers(await stack.containers())).filter((c) => c.health !== undefined).map((c) => c.id);
    await waitUntil('every health check passing', async () => {
      const states = await inspectContainers(ids);
      return states.every((c) => c.health === 'healthy') ? true : undefined;
    }, { timeoutMs: 120_000, everyMs: 250 });
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
  return startToHealthy;
}

/** The same stack on Node's and glibc's default memory settings, idle beside ours. */
async function besideNodeDefaults(stack: ComposeStack) {
  const defaults = await composeStack(`dockercoins-bench-defaults-${process.pid}`, { files: [path.join(benchDir, 'node-defaults.yml')] });
  try {
    await defaults.compose('up', '-d');
    await waitUntil('the other stack counting', async () => ((await readCounters(defaults.webui)).hashes > 0 ? true : undefined), { timeoutMs: 60_000 });
    console.log(`idle memory after ${IDLE_SECONDS} s`);
    // Meanwhile what each stack's containers cost in CPU at the workshop's pace (1 worker), and
    // the work each does (hashes/s, ours then Node's defaults); then the same work at 10 workers.
    const hashRates = (seconds: number) => Promise.all([stack, defaults].map(async (s) => (await measureRate(s.webui, seconds)).rate));
    const [cpu, oneWorker] = await Promise.all([Promise.all([stack.containers().then((ids) => dockerCpu(ids, IDLE_SECONDS)), defaults.containers().then((ids) => dockerCpu(ids, IDLE_SECONDS))]), hashRates(IDLE_SECONDS)]);
    const [paceCpu, defaultPaceCpu] = cpu;
    const [memory, defaultMemory] = await Promise.all([idleMemory(stack), idleMemory(defaults)]);
    await Promise.all([stack, defaults].map((s) => s.compose('up', '-d', '--scale', 'worker=10')));
    await sleep(RATE_SECONDS * 1000);
    const rates: Rates = { oneWorker, tenWorkers: await hashRates(RATE_SECONDS) };
    return { memory, defaultMemory, paceCpu, defaultPaceCpu, rates };
  } finally {
    await defaults.down();
  }
}

/** Host CPU with the health checks, then without (a stack of its own); takes `stack` down. */
async function healthCheckCost(stack: ComposeStack): Promise<HealthChecks> {
  console.log(`health checks: host CPU over ${HEALTH_SECONDS} s with them, then ${HEALTH_SECONDS} s without`);
  const withChecks = await stackCpu(stack, true);
  const checked = await inspectHealthchecks(stack);
  await stack.down();
  const bare = await composeStack(`dockercoins-bench-nohc-${process.pid}`, { files: [path.join(benchDir, 'no-healthcheck.yml')] });
  let withoutChecks: CpuSample;
  try {
    withoutChecks = await stackCpu(bare, false);
  } finally {
    await bare.down();
  }
  return { seconds: HEALTH_SECONDS, containers: HEALTH_CONTAINERS, intervals: checked, with: withChecks, without: withoutChecks };
}

/** bench/results/images-<time>.json, and the README's two sections. */
async function writeResult(result: Result) {
  const resultsDir = path.join(benchDir, 'results');
  await mkdir(resultsDir, { recursive: true });
  const jsonFile = path.join(resultsDir, `images-${result.date.replaceAll(':', '-')}.json`);
  await writeFile(jsonFile, `${JSON.stringify(result, null, 2)}\n`);
  const table = render(result);
  await updateReadmeSection('Images', table);
  const health = renderHealth(result.healthChecks, measured(result));
  await updateReadmeSection('Health checks', health);
  console.log(`\n${table}\n\n${health}\n\nwritten: ${path.relative(process.cwd(), jsonFile)}, bench/README.md (sections "Images" and "Health checks")`);
}

/** Each container's memory as docker stats counts it, and its main process's RSS. */
async function idleMemory(stack: ComposeStack): Promise<Memory> {
  const memory: Memory = {};
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
  return memory;
}

/** docker stats' sizes: "12.5MiB", "1.2GiB", "512KiB", "100B". */
function parseDockerSize(text: string): number {
  const m = /^([\d.]+)\s*([KMG]i?)?B$/.exec(text.trim());
  if (!m) throw new Error(`unexpected size from docker stats: ${text}`);
  const unit = m[2] ?? '';
  const factor = unit.endsWith('i') ? 1024 ** ('KMG'.indexOf(unit[0]!) + 1) : 1000 ** ('KMG'.indexOf(unit[0]!) + 1);
  return Number(m[1]) * (unit ? factor : 1);
}

interface Result {
  date: string;
  machine: string;
  dockerVersion: string;
  baseImage: string;
  redisImage: string;
  base: ImageSize;
  sizes: Record<string, ImageSize>;
  allFour: Saved;
  startToHealthyMs: Record<string, number>;
  memory: Memory;
  defaultMemory: Memory;
  paceCpu: { seconds: number; ours: CpuSample; defaults: CpuSample };
  rates: Rates;
  healthChecks: HealthChecks;
}

const measured = (r: Result) => `Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${r.machine}, Docker ${r.dockerVersion}, by \`npm run bench:images\`, base image \`${r.baseImage}\``;

const containers = (s: CpuSample) => s.shimSeconds + s.mainSeconds;

function render(r: Result): string {
  const mb = (n: number) => (n / MB).toFixed(1);
  const lines = [
    `${measured(r)}.`,
    '',
    '| image | size (MB) | gzipped (MB) | on top of the base (MB) | start → healthy (ms, median of 3) | idle RSS of PID 1 (MB) | idle memory, docker stats (MB) | same, on Node\'s defaults (MB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of builtServices) {
    const size = r.sizes[`dockercoins_${s}`]!;
    const m = r.memory[s]!;
    const healthy = r.startToHealthyMs[s];
    lines.push(
      `| dockercoins_${s} | ${mb(size.bytes)} | ${mb(size.saved.gzipBytes)} | ${mb(size.bytes - r.base.bytes)} | ${healthy === undefined ? 'no check' : Math.round(healthy)} | ${m.rssMB.toFixed(1)} | ${m.cgroupMB.toFixed(1)} | ${r.defaultMemory[s]!.cgroupMB.toFixed(1)} |`,
    );
  }
  const redis = r.memory.redis!;
  lines.push(
    `| all four (unique layers, \`docker save\`) | ${mb(r.allFour.bytes)} | ${mb(r.allFour.gzipBytes)} | ${mb(r.allFour.bytes - r.base.saved.bytes)} | | | | |`,
    `| base \`${r.baseImage}\` | ${mb(r.base.bytes)} | ${mb(r.base.saved.gzipBytes)} | | | | | |`,
    `| redis (\`${r.redisImage}\`) | | | | ${Math.round(r.startToHealthyMs.redis!)} | ${redis.rssMB.toFixed(1)} | ${redis.cgroupMB.toFixed(1)} | |`,
    '',
    "Start → healthy: from the engine's `start` event to its `health_status: healthy` event; the first health check runs one interval after start (the intervals docker-compose.yml declares: the images have no check of their own), which Docker 20.10 cannot shorten (`--start-interval` needs Docker 25); the worker has no health check. On top of the base: our bundle, curl (for the health checks) and bind-setpriv (port 80 as user node where the runtime keeps unprivileged ports from 1024: docker/entrypoint.sh). Idle: the Compose stack with 1 worker, " +
      `${IDLE_SECONDS} s after every container was healthy (the worker working at the workshop's pace); RSS of PID 1 (node; redis-server for redis) from /proc, and the container's memory as \`docker stats\` counts it (about the process's anonymous memory: RSS also counts the node binary mapped from the image, page cache that every container on the same base shares). Node's defaults: the same stack at the same time with \`NODE_OPTIONS\` and \`MALLOC_ARENA_MAX\` emptied (bench/node-defaults.yml), i.e. without the images' \`--max-semi-space-size=1\` and \`MALLOC_ARENA_MAX=2\`, and worker and webui without their \`--optimize-for-size --single-threaded-gc\`.`,
    '',
    `CPU of the containers of each stack meanwhile (shims and main processes, over ${r.paceCpu.seconds} s at the workshop's pace, 1 worker): ${pct(containers(r.paceCpu.ours) / r.paceCpu.seconds)} of one core with the images' settings, ${pct(containers(r.paceCpu.defaults) / r.paceCpu.seconds)} with Node's defaults. Hashes/s meanwhile (the web UI's counter), with the images' settings and with Node's defaults: ${r.rates.oneWorker.map((x) => x.toFixed(2)).join(' and ')}; with 10 workers (over ${RATE_SECONDS} s, ${RATE_SECONDS} s after scaling): ${r.rates.tenWorkers.map((x) => x.toFixed(2)).join(' and ')}.`,
  );
  return lines.join('\n');
}

await runBench(main);
