// The bench's processes: every service runs as its own process from a copy of dist/, like in
// production, beside the baselines bundled the same way; their memory from /proc; CPU pinning;
// and the turns that keep the ratios fair on a noisy machine.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { build } from 'esbuild';
import { nodeBundle } from '../scripts/node-bundle.js';
import { distDir, repositoryRoot } from '../src/lib/paths.js';
import { freePort } from '../src/lib/redis-server.js';
import { Failure, waitUntil } from '../src/lib/wait.js';
import { benchDir } from './report.js';

/** Our bundles (dist/) and the baselines (bench/bare.ts, bench/bare-worker.ts). */
export type Bundle = 'bare' | 'bare-worker' | 'rng' | 'hasher' | 'worker' | 'webui';

export interface Proc {
  name: Bundle;
  url: string;
  child: ChildProcess;
  startupMs: number;
  stop(): Promise<void>;
}

export const say = (line: string) => void process.stdout.write(`${line}\n`);

const running = new Set<Proc>();
/** Run by stopAll, newest first. */
const cleanups: (() => Promise<unknown>)[] = [];
let bundles: string | undefined;
/** Set by stopAll: a process still starting then (a failed Promise.all's others) is killed, not kept. */
let stopping = false;

/** Registers something to undo at the end, even after a failure. */
export const onCleanup = (cleanup: () => Promise<unknown>) => void cleanups.unshift(cleanup);

/**
 * A copy of dist/: others' builds in the same checkout must not replace the bundles mid-run.
 * The baselines are bundled beside them, so that every process starts the same way.
 */
export async function prepareBundles(): Promise<string> {
  bundles = await mkdtemp(path.join(os.tmpdir(), 'dockercoins-bench-'));
  await cp(distDir, bundles, { recursive: true });
  await build({
    entryPoints: { bare: path.join(benchDir, 'bare.ts'), 'bare-worker': path.join(benchDir, 'bare-worker.ts') },
    ...nodeBundle,
    sourcemap: true,
    outdir: bundles,
  });
  return bundles;
}

/** Stops every process still running, runs the cleanups and removes the bundles' copy. */
export async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all([...running].map((p) => p.stop()));
  for (const cleanup of cleanups) await cleanup();
  if (bundles) await rm(bundles, { recursive: true, force: true });
}

/**
 * Starts one process on a free port; resolves once it answers (GET /healthz; bare: any path).
 * `dir`: where the bundle is, if not the copy of this checkout's dist/ (an A/B comparison);
 * `nodeArgs`: node's own options (a profiler).
 */
export async function start(name: Bundle, env: Record<string, string> = {}, { dir = bundles, nodeArgs = [] as string[] } = {}): Promise<Proc> {
  if (!dir) throw new Error('prepareBundles() first');
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, path.join(dir, `${name}.mjs`)], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), ...env },
    // Logs go where Docker would send them, minus the reader: the bench must not spend CPU on them.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  // Generous: on a shared 2-core machine 16 workers starting at once took over 30 s. The bare loop has no server: it starts working at once.
  await waitUntil(
    `${name} healthy`,
    async () => {
      if (child.exitCode !== null) throw new Failure(`${name} exited with ${child.exitCode}: ${stderr}`);
      if (stopping) {
        child.kill('SIGKILL');
        throw new Failure(`${name}: the bench is stopping`);
      }
      return name === 'bare-worker' || (await fetch(`${url}/healthz`)).ok || undefined;
    },
    { timeoutMs: 120_000, everyMs: 5 },
  );
  const proc: Proc = {
    name,
    url,
    child,
    startupMs: performance.now() - started,
    async stop() {
      running.delete(proc);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await Promise.race([exited, delay(3000).then(() => child.kill('SIGKILL'))]);
    },
  };
  running.add(proc);
  return proc;
}

/** A line of /proc/<pid>/status in MB: VmRSS (all resident pages) or RssAnon (the private part). */
export function memoryMB(proc: Proc, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  try {
    const status = readFileSync(`/proc/${proc.child.pid}/status`, 'utf8');
    const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) the process has used so far, in ms. */
export function cpuMs(proc: Proc): number {
  // Fields 14 and 15 of /proc/<pid>/stat, counted after the command name's closing parenthesis.
  const fields = readFileSync(`/proc/${proc.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

/** Samples the RSS of `procs` every 200 ms while `work` runs; returns the peak of each. */
export async function peakRss<T>(procs: Proc[], work: () => Promise<T>): Promise<{ result: T; peak: Map<Proc, number> }> {
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

// In the HTTP rounds the servers run on the last CPU and autocannon (this process) on the first,
// so that the load generator never competes with the server it measures. Unpinned, rng measured
// 0.44 of the bare server in one run and 0.61 pinned in the next: sharing two cores with
// autocannon measured the scheduler as much as the server.
const cpuCount = os.cpus().length;
export const canPin = cpuCount >= 2 && spawnSync('taskset', ['-V']).status === 0;
export const LAST_CPU = String(cpuCount - 1);
export const ALL_CPUS = `0-${cpuCount - 1}`;

/** Moves every thread of `pid` to `cpus` (a taskset list); a no-op where pinning is not possible. */
export function pin(pid: number, cpus: string): void {
  if (canPin) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Lets only `procs` of `all` run: the others are stopped (SIGSTOP), these resumed (SIGCONT). */
export function runOnly(procs: Proc[], all: Iterable<Proc>): void {
  for (const p of all) if (!procs.includes(p)) p.child.kill('SIGSTOP');
  for (const p of procs) p.child.kill('SIGCONT');
}

/**
 * Runs each target in turn, round after round in alternating order, with only that target's
 * processes running: the others' are stopped (SIGSTOP). A process left running does its deferred
 * work (V8's memory reducer, concurrent GC) on the CPU where the next target is measured: that
 * cost hasher a tenth of its HTTP rate (0.58 of bare in the HTTP order with the others running,
 * 0.66 with them stopped; one run of each). Returns every target's results, in round order.
 */
export async function inTurns<T>(targets: Record<string, { procs: Proc[]; run: () => Promise<T> }>, rounds: number): Promise<Record<string, T[]>> {
  const names = Object.keys(targets);
  const all = new Set(Object.values(targets).flatMap((t) => t.procs));
  const results: Record<string, T[]> = Object.fromEntries(names.map((name) => [name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        const { procs, run } = targets[name]!;
        runOnly(procs, all);
        results[name]!.push(await run());
      }
    }
  } finally {
    for (const p of all) p.child.kill('SIGCONT');
  }
  return results;
}

/** The units done and the failed calls so far, summed over `workers` (their own /metrics). */
export async function workerCounts(workers: Proc[]): Promise<{ units: number; errors: number }> {
  const texts = await Promise.all(workers.map((w) => metricsOf(w)));
  const sum = (name: string) =>
    texts.flatMap((text) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))]).reduce((total, m) => total + Number(m[1]), 0);
  return { units: sum('worker_units_total'), errors: sum('worker_errors_total') };
}

/** A worker's /metrics, asked up to 3 times: on a loaded machine one request may fail. */
async function metricsOf(worker: Proc): Promise<string> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await (await fetch(`${worker.url}/metrics`)).text();
    } catch (err) {
      last = err;
      await delay(500);
    }
  }
  const state = worker.child.exitCode === null ? 'running' : `exited with ${worker.child.exitCode}`;
  throw new Error(`${worker.name} at ${worker.url} (${state}): /metrics failed: ${String((last as Error).cause ?? last)}`);
}
