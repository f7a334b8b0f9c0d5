// `npm run bench`: our services against a bare node:http server, in one run so that the
// ratios hold on a noisy machine. Every service runs as its own process from dist/, like in
// production. Prints a table, writes bench/results/services-<time>.json and rewrites the
// "Services" section of bench/README.md.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { build } from 'esbuild';
import { createClient } from '@redis/client';
import { nodeBundle } from '../scripts/node-bundle.js';
import { freePort, startRedisServer } from '../src/cli/local.js';
import { CONNECTION_MODES, type ConnectionMode } from '../src/worker/upstream.js';
import { machine, median, runBench, updateReadmeSection } from './report.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 3);
const PIPELINE_ROUNDS = Number(process.env.BENCH_PIPELINE_ROUNDS ?? 3);
const PIPELINE_SECONDS = Number(process.env.BENCH_PIPELINE_SECONDS ?? 5);
const PIPELINE_SETTLE_SECONDS = 2;
/**
 * Warm-up: until two successive 5 s windows agree within 15 %, at most this long. 16 fresh
 * processes on 2 cores need about 30 s before their code is optimised (5 s showed a third of
 * the steady rate).
 */
const PIPELINE_WARMUP_MAX_SECONDS = Number(process.env.BENCH_PIPELINE_WARMUP_MAX_SECONDS ?? 90);
const WARMUP_WINDOW_SECONDS = 5;
/**
 * Idle memory: the median of a sample a second from 25 to 35 s after start. V8 hands back the
 * garbage of start-up some 15-25 s after start (its memory reducer), not always at the same time.
 */
const IDLE_FROM_SECONDS = 25;
const IDLE_TO_SECONDS = 35;
/** Same load for the bare server and ours. */
const CONNECTIONS = 10;
const BODY = Buffer.alloc(32, 7);
const ZERO_DELAYS = { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0', WORK_DELAY_MS: '0' };

type Name = 'bare' | 'bare-worker' | 'rng' | 'hasher' | 'worker' | 'webui';

interface Proc {
  name: Name;
  url: string;
  child: ChildProcess;
  startupMs: number;
  stop(): Promise<void>;
}

const running = new Set<Proc>();
// A copy of dist/: others' builds in the same checkout must not replace the bundles mid-run.
// The baselines are bundled beside them, so that every process starts the same way.
const bundles = await mkdtemp(path.join(os.tmpdir(), 'dockercoins-bench-'));
await cp(path.join(root, 'dist'), bundles, { recursive: true });
await build({
  entryPoints: { bare: path.join(root, 'bench/bare.ts'), 'bare-worker': path.join(root, 'bench/bare-worker.ts') },
  ...nodeBundle,
  outdir: bundles,
});
/** Run at the end, even after a failure, newest first. */
const cleanups: (() => Promise<unknown>)[] = [];

/** Starts one process on a free port; resolves once it answers (GET /healthz; bare: any path). */
async function start(name: Name, env: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  const args = [path.join(bundles, `${name}.mjs`)];
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ...env },
    // Logs go where Docker would send them, minus the reader: the bench must not spend CPU on them.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  // Generous: the machine may be shared and busy.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`${name} was not healthy within 30 s`);
    if (name === 'bare-worker') break; // no server: it starts working at once
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await delay(5);
  }
  const proc: Proc = {
    name,
    url,
    child,
    startupMs: performance.now() - started,
    async stop() {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await Promise.race([exited, delay(3000).then(() => child.kill('SIGKILL'))]);
    },
  };
  running.add(proc);
  return proc;
}

/** A line of /proc/<pid>/status in MB: VmRSS (all resident pages) or RssAnon (the private part). */
function memoryMB(proc: Proc, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${proc.child.pid}/status`, 'utf8');
    const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}

/** Samples the RSS of `procs` every 200 ms while `work` runs; returns the peak of each. */
async function peakRss<T>(procs: Proc[], work: () => Promise<T>): Promise<{ result: T; peak: Map<Proc, number> }> {
  const peak = new Map(procs.map((p) => [p, memoryMB(p)]));
  const sample = () => procs.forEach((p) => peak.set(p, Math.max(peak.get(p)!, memoryMB(p))));
  const timer = setInterval(sample, 200);
  try {
    const result = await work();
    sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

interface PipelineRun {
  workers: number;
  connections: 'bare' | ConnectionMode;
  /** The median round. */
  hashesPerSec: number;
  rounds: number[];
  warmupSeconds: number;
  workerErrors: number;
}

interface Load {
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

async function load(url: string, options: { method?: 'GET' | 'POST'; connections?: number; seconds?: number } = {}): Promise<Load> {
  const result = await autocannon({
    url,
    method: options.method ?? 'GET',
    body: options.method === 'POST' ? BODY : undefined,
    headers: options.method === 'POST' ? { 'content-type': 'application/octet-stream' } : undefined,
    connections: options.connections ?? CONNECTIONS,
    duration: options.seconds ?? ROUND_SECONDS,
  });
  return {
    reqPerSec: result.requests.total / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

// In the HTTP rounds the servers run on the last CPU and autocannon (this process) on the first,
// so that the load generator never competes with the server it measures. Unpinned, rng measured
// 0.44 of the bare server in one run and 0.61 pinned in the next: sharing two cores with
// autocannon measured the scheduler as much as the server.
const cpuCount = os.cpus().length;
const canPin = cpuCount >= 2 && spawnSync('taskset', ['-V']).status === 0;
const ALL_CPUS = `0-${cpuCount - 1}`;

/** Moves every thread of `pid` to `cpus` (a taskset list); a no-op where pinning is not possible. */
function pin(pid: number, cpus: string): void {
  if (canPin) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Runs each target in turn, round after round in alternating order, with only that target's
 * processes running: the others' are stopped (SIGSTOP). A process left running does its deferred
 * work (V8's memory reducer, concurrent GC) on the CPU where the next target is measured: that
 * cost hasher a tenth of its HTTP rate (0.58 of bare in the HTTP order with the others running,
 * 0.66 with them stopped; one run of each). Returns every target's results, in round order.
 */
async function inTurns<T>(targets: Record<string, { procs: Proc[]; run: () => Promise<T> }>, rounds: number): Promise<Record<string, T[]>> {
  const names = Object.keys(targets);
  const all = new Set(Object.values(targets).flatMap((t) => t.procs));
  const results: Record<string, T[]> = Object.fromEntries(names.map((name) => [name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const { procs, run } = targets[name]!;
        for (const p of all) if (!procs.includes(p)) p.child.kill('SIGSTOP');
        for (const p of procs) p.child.kill('SIGCONT');
        results[name]!.push(await run());
      }
    }
  } finally {
    for (const p of all) p.child.kill('SIGCONT');
  }
  return results;
}

/** The HTTP rounds: a warm-up round (JIT, connections) not kept, then each target's median round. */
async function interleaved(targets: Record<string, { procs: Proc[]; run: () => Promise<Load> }>): Promise<Record<string, Load>> {
  await inTurns(targets, 1);
  const rounds = await inTurns(targets, ROUNDS);
  return Object.fromEntries(
    Object.entries(rounds).map(([name, loads]) => {
      const mid = loads.find((l) => l.reqPerSec === median(loads.map((x) => x.reqPerSec)))!;
      return [name, { ...mid, errors: loads.reduce((sum, l) => sum + l.errors, 0) }];
    }),
  );
}

function say(line: string) {
  process.stdout.write(`${line}\n`);
}

async function main() {
  const redisServer = await startRedisServer();
  if (!redisServer) throw new Error('redis-server is needed: apt-get install -y redis-server');
  cleanups.unshift(redisServer.stop);
  const redisEnv = { REDIS_URL: redisServer.url };

  // 1. Start-up time and memory, with the workshop's default delays; the bare server beside them.
  say(`start-up and idle memory (${IDLE_TO_SECONDS} s)...`);
  const startup: Record<string, number[]> = { bare: [], rng: [], hasher: [], webui: [], worker: [] };
  const startRss: Record<string, number> = {};
  const idleRss: Record<string, number> = {};
  const idlePrivate: Record<string, number> = {};
  for (let i = 0; i < 3; i++) {
    const bare = await start('bare');
    const rng = await start('rng');
    const hasher = await start('hasher');
    const webui = await start('webui', redisEnv);
    const worker = await start('worker', { ...redisEnv, RNG_URL: rng.url, HASHER_URL: hasher.url });
    const all = [bare, rng, hasher, webui, worker];
    for (const p of all) startup[p.name]!.push(p.startupMs);
    if (i === 0) {
      const started = performance.now();
      await delay(3000);
      for (const p of all) startRss[p.name] = memoryMB(p);
      const rss = new Map(all.map((p) => [p, [] as number[]]));
      const anon = new Map(all.map((p) => [p, [] as number[]]));
      for (let at = IDLE_FROM_SECONDS; at <= IDLE_TO_SECONDS; at++) {
        await delay(at * 1000 - (performance.now() - started));
        for (const p of all) {
          rss.get(p)!.push(memoryMB(p));
          anon.get(p)!.push(memoryMB(p, 'RssAnon'));
        }
      }
      for (const p of all) {
        idleRss[p.name] = median(rss.get(p)!);
        idlePrivate[p.name] = median(anon.get(p)!);
      }
    }
    for (const p of all.reverse()) await p.stop();
  }

  // 2. rng and hasher against the bare server, delays 0.
  say(`rng and hasher vs bare node:http: ${ROUNDS} rounds of ${ROUND_SECONDS} s, ${CONNECTIONS} connections...`);
  const bare = await start('bare');
  const rng = await start('rng', ZERO_DELAYS);
  const hasher = await start('hasher', ZERO_DELAYS);
  // The same with the access log (LOG_LEVEL=debug, one JSON line per request): what it costs.
  const verbose = { ...ZERO_DELAYS, LOG_LEVEL: 'debug' };
  const rngVerbose = await start('rng', verbose);
  const hasherVerbose = await start('hasher', verbose);
  const servers = [bare, rng, hasher, rngVerbose, hasherVerbose];
  for (const p of servers) pin(p.child.pid!, String(cpuCount - 1));
  pin(process.pid, '0');
  const { result: http, peak: httpPeak } = await peakRss([bare, rng, hasher], () =>
    interleaved({
      'bare GET': { procs: [bare], run: () => load(`${bare.url}/32`) },
      'rng GET /32': { procs: [rng], run: () => load(`${rng.url}/32`) },
      'rng GET /32, LOG_LEVEL=debug': { procs: [rngVerbose], run: () => load(`${rngVerbose.url}/32`) },
      'bare POST': { procs: [bare], run: () => load(`${bare.url}/`, { method: 'POST' }) },
      'hasher POST /': { procs: [hasher], run: () => load(`${hasher.url}/`, { method: 'POST' }) },
      'hasher POST /, LOG_LEVEL=debug': { procs: [hasherVerbose], run: () => load(`${hasherVerbose.url}/`, { method: 'POST' }) },
    }),
  );
  await Promise.all([bare.stop(), rngVerbose.stop(), hasherVerbose.stop()]);
  for (const pid of [rng.child.pid!, hasher.child.pid!, process.pid]) pin(pid, ALL_CPUS);

  // 3. The whole pipeline, delays 0: ours in each connection mode, and the bare loop on bare
  // servers (bench/bare-worker.ts) as the ceiling of this machine. The groups of workers
  // run in turns (the others stopped with SIGSTOP), round after round, each counting into its own
  // Redis database: one slow minute of a shared host then weighs on every mode alike.
  const bareRng = await start('bare');
  const bareHasher = await start('bare');
  const pipeline: PipelineRun[] = [];
  let workerPeak = 0;
  const modes = ['bare', ...CONNECTION_MODES] as const;
  for (const count of [1, 4, 16]) {
    const groups = new Map<(typeof modes)[number], { workers: Proc[]; rateOver: (seconds: number) => Promise<number>; warmupSeconds: number }>();
    for (const [index, connections] of modes.entries()) {
      say(`pipeline: ${count} workers, ${connections}, warm-up...`);
      const database = `${redisServer.url}/${index + 1}`;
      const counter = createClient({ url: database });
      counter.on('error', (err: Error) => say(`redis client: ${err.message}`));
      await counter.connect();
      cleanups.unshift(async () => counter.isOpen && counter.destroy());
      await counter.set('hashes', 0);
      const bare = connections === 'bare';
      const workers = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          start(bare ? 'bare-worker' : 'worker', {
            REDIS_URL: database,
            ...ZERO_DELAYS,
            RNG_URL: (bare ? bareRng : rng).url,
            HASHER_URL: (bare ? bareHasher : hasher).url,
            UPSTREAM_CONNECTIONS: connections,
            // A response awaited when its worker is stopped must not time out while it waits
            // (connecting keeps its own 2 s bound).
            CALL_TIMEOUT_MS: '120000',
            INSTANCE_NAME: `bench-worker-${i + 1}`,
          }),
        ),
      );
      /** Hashes per second counted in this group's database over the next `seconds`. */
      const rateOver = async (seconds: number) => {
        const before = { hashes: Number(await counter.get('hashes')), at: performance.now() };
        await delay(seconds * 1000);
        const after = { hashes: Number(await counter.get('hashes')), at: performance.now() };
        return ((after.hashes - before.hashes) * 1000) / (after.at - before.at);
      };
      const started = performance.now();
      const warmed = () => (performance.now() - started) / 1000;
      let previous = await rateOver(WARMUP_WINDOW_SECONDS);
      while (warmed() < PIPELINE_WARMUP_MAX_SECONDS) {
        const rate = await rateOver(WARMUP_WINDOW_SECONDS);
        if (previous > 0 && Math.abs(rate - previous) <= 0.15 * previous) break;
        previous = rate;
      }
      // Stopped while the next groups warm up.
      for (const w of workers) w.child.kill('SIGSTOP');
      groups.set(connections, { workers, rateOver, warmupSeconds: warmed() });
    }
    say(`pipeline: ${count} workers, ${PIPELINE_ROUNDS} rounds of ${PIPELINE_SECONDS} s per mode...`);
    const turns = Object.fromEntries(
      [...groups].map(([mode, group]) => [
        mode,
        {
          procs: group.workers,
          run: async () => {
            // The count held while stopped reaches Redis within its first second back.
            await delay(PIPELINE_SETTLE_SECONDS * 1000);
            return group.rateOver(PIPELINE_SECONDS);
          },
        },
      ]),
    );
    const { result: rates, peak } = await peakRss([...[...groups.values()].flatMap((g) => g.workers), rng, hasher], () =>
      inTurns(turns, PIPELINE_ROUNDS),
    );
    for (const [connections, group] of groups) {
      const bare = connections === 'bare';
      const errors = bare ? [0] : await Promise.all(group.workers.map((w) => workerErrors(w.url)));
      if (!bare) {
        for (const w of group.workers) workerPeak = Math.max(workerPeak, peak.get(w)!);
        for (const p of [rng, hasher]) httpPeak.set(p, Math.max(httpPeak.get(p)!, peak.get(p)!));
      }
      pipeline.push({
        workers: count,
        connections,
        hashesPerSec: median(rates[connections]!),
        rounds: rates[connections]!,
        warmupSeconds: group.warmupSeconds,
        workerErrors: errors.reduce((a, b) => a + b, 0),
      });
      await Promise.all(group.workers.map((w) => w.stop()));
    }
  }
  await Promise.all([bareRng.stop(), bareHasher.stop()]);
  await Promise.all([rng.stop(), hasher.stop()]);

  // 4. webui /json under 200 connections.
  say('webui /json, 200 connections...');
  const webui = await start('webui', redisEnv);
  await load(`${webui.url}/json`, { connections: 200, seconds: 1 }); // warm-up
  const { result: json, peak: webuiPeak } = await peakRss([webui], () => load(`${webui.url}/json`, { connections: 200, seconds: 5 }));
  await webui.stop();


  const results = {
    date: new Date().toISOString(),
    machine: machine(),
    settings: {
      rounds: ROUNDS,
      roundSeconds: ROUND_SECONDS,
      connections: CONNECTIONS,
      pinned: canPin,
      pipelineRounds: PIPELINE_ROUNDS,
      pipelineSeconds: PIPELINE_SECONDS,
      pipelineWarmupMaxSeconds: PIPELINE_WARMUP_MAX_SECONDS,
    },
    http,
    // Each row against the bare server doing the same (GET or POST).
    ratios: Object.fromEntries(
      Object.entries(http).map(([name, l]) => [name, l.reqPerSec / http[name.includes('POST') ? 'bare POST' : 'bare GET']!.reqPerSec]),
    ),
    pipeline,
    webuiJson: json,
    startupMs: Object.fromEntries(Object.entries(startup).map(([k, v]) => [k, median(v)])),
    startRssMB: startRss,
    idleRssMB: idleRss,
    idlePrivateMB: idlePrivate,
    loadedRssMB: { bare: httpPeak.get(bare)!, rng: httpPeak.get(rng)!, hasher: httpPeak.get(hasher)!, worker: workerPeak, webui: webuiPeak.get(webui)! },
  };
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  const jsonFile = path.join(root, `bench/results/services-${results.date.replace(/[:.]/g, '-')}.json`);
  await writeFile(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  const table = render(results);
  say(`\n${table}\nwritten: ${path.relative(root, jsonFile)}, bench/README.md (section "Services")`);
  await updateReadmeSection('Services', table);
}

async function workerErrors(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^worker_errors_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

function render(r: {
  date: string;
  machine: string;
  settings: { rounds: number; roundSeconds: number; connections: number; pinned: boolean; pipelineRounds: number; pipelineSeconds: number; pipelineWarmupMaxSeconds: number };
  http: Record<string, Load>;
  ratios: Record<string, number>;
  pipeline: PipelineRun[];
  webuiJson: Load;
  startupMs: Record<string, number>;
  startRssMB: Record<string, number>;
  idleRssMB: Record<string, number>;
  idlePrivateMB: Record<string, number>;
  loadedRssMB: Record<string, number>;
}): string {
  const lines = [
    `Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC on ${r.machine}, by \`npm run bench\`.`,
    '',
    `HTTP, delays 0, autocannon ${r.settings.connections} connections, median of ${r.settings.rounds} interleaved rounds of ${r.settings.roundSeconds} s, the other servers stopped during each${r.settings.pinned ? ', the server on the last CPU and autocannon on the first' : ''}:`,
    '',
    '| target | req/s | p50 ms | p90 ms | p99 ms | errors | ratio to bare |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name, l] of Object.entries(r.http)) {
    const ratio = r.ratios[name]!.toFixed(2);
    lines.push(`| ${name} | ${int(l.reqPerSec)} | ${l.p50} | ${l.p90} | ${l.p99} | ${l.errors} | ${ratio} |`);
  }
  lines.push(
    '',
    `Whole pipeline, delays 0 (1 rng, 1 hasher, N worker processes, real Redis): hashes/s, the median of ${r.settings.pipelineRounds} rounds of ${r.settings.pipelineSeconds} s per mode, the modes taking turns (the others' workers stopped), each after a warm-up until its rate was steady (two successive ${WARMUP_WINDOW_SECONDS} s windows within 15 %, at most ${r.settings.pipelineWarmupMaxSeconds} s; the time it took is in brackets); bare: bench/bare-worker.ts on two bare servers:`,
    '',
  );
  lines.push('| workers | bare | ours, balanced (default) | ours, keep-alive | ours, per-call | balanced / bare | keep-alive / bare |', '|---:|---:|---:|---:|---:|---:|---:|');
  for (const workers of [...new Set(r.pipeline.map((p) => p.workers))]) {
    const run = (mode: PipelineRun['connections']) => r.pipeline.find((x) => x.workers === workers && x.connections === mode)!;
    const rate = (mode: PipelineRun['connections']) => {
      const p = run(mode);
      return `${int(p.hashesPerSec)} (${Math.round(p.warmupSeconds)} s)${p.workerErrors ? `, ${p.workerErrors} error${p.workerErrors === 1 ? '' : 's'}` : ''}`;
    };
    const ratio = (mode: PipelineRun['connections']) => (run(mode).hashesPerSec / run('bare').hashesPerSec).toFixed(2);
    lines.push(`| ${workers} | ${rate('bare')} | ${rate('balanced')} | ${rate('keep-alive')} | ${rate('per-call')} | ${ratio('balanced')} | ${ratio('keep-alive')} |`);
  }
  const j = r.webuiJson;
  lines.push('', `webui GET /json, 200 connections, 5 s: ${int(j.reqPerSec)} req/s, p50 ${j.p50} ms, p99 ${j.p99} ms, ${j.errors} errors.`, '');
  lines.push(
    `| service | start-up to first healthy answer (ms, median of 3) | RSS 3 s after start (MB) | idle RSS (MB) | of which private (MB) | loaded RSS (MB) |`,
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const name of ['bare', 'rng', 'hasher', 'worker', 'webui']) {
    const label = name === 'bare' ? 'bare node:http (baseline)' : name;
    lines.push(
      `| ${label} | ${int(r.startupMs[name]!)} | ${r.startRssMB[name]} | ${r.idleRssMB[name]} | ${r.idlePrivateMB[name]} | ${r.loadedRssMB[name]} |`,
    );
  }
  lines.push(
    '',
    `All five run side by side with the default delays, the worker working at its workshop pace against this rng and hasher. Idle: the median of a sample a second from ${IDLE_FROM_SECONDS} to ${IDLE_TO_SECONDS} s after start, once V8 has handed back the garbage of start-up (it does so 15-25 s after start). Private: RssAnon, the resident memory that is this process's own; the rest of RSS is mostly the node binary's pages, shared by every node process on the machine (and every container of the same image). Loaded: peak RSS during the runs above (bare: its HTTP rounds).`,
  );
  return lines.join('\n');
}

await runBench(main, async () => {
  await Promise.all([...running].map((p) => p.stop()));
  for (const cleanup of cleanups) await cleanup();
  await rm(bundles, { recursive: true, force: true });
});
