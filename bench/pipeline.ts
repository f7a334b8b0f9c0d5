// The whole pipeline at delays 0 (1 rng, 1 hasher, N worker processes, real Redis): our worker
// in each connection mode, and the bare loop (bench/bare-worker.ts) on bare servers with each
// HTTP client, the better of the two being the ceiling of this machine. The modes' workers run
// in turns (the others stopped with SIGSTOP), round after round, each counting into its own
// Redis database: one slow minute of a shared host then weighs on every mode alike.
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from '@redis/client';
import { workerEnv } from '../src/worker/app.js';
import { CONNECTION_MODES } from '../src/worker/upstream.js';
import { ZERO_DELAYS } from './http.js';
import { cpuMs, inTurns, onCleanup, peakRss, runOnly, say, start, workerCounts, type Proc } from './processes.js';
import { median, spread, type Spread } from './report.js';

export interface Mode {
  name: string;
  /** A bare-loop mode: the ceiling's candidates. */
  bare: boolean;
  env: Record<string, string>;
}

/** The worker's connection mode when UPSTREAM_CONNECTIONS is not set. */
export const DEFAULT_CONNECTIONS = workerEnv.UPSTREAM_CONNECTIONS.parse(undefined);

/** Every mode measured: the bare loop with each client, and our worker in each connection mode. */
export const MODES: Mode[] = [
  { name: 'bare, undici', bare: true, env: { BARE_CLIENT: 'undici' } },
  { name: 'bare, node:http', bare: true, env: { BARE_CLIENT: 'node:http' } },
  ...CONNECTION_MODES.map((mode) => ({
    name: `ours, ${mode}${mode === DEFAULT_CONNECTIONS ? ' (default)' : ''}`,
    bare: false,
    env: { UPSTREAM_CONNECTIONS: mode },
  })),
];

export const PIPELINE_SETTINGS = {
  workers: [1, 4, 16],
  rounds: Number(process.env.BENCH_PIPELINE_ROUNDS ?? 3),
  /** Whole seconds: see SETTLE_SECONDS. */
  roundSeconds: Math.round(Number(process.env.BENCH_PIPELINE_SECONDS ?? 3)),
  /**
   * Warm-up: until each worker has done this many units and two successive windows agree within
   * 15 %, at most warmupMaxSeconds: fresh processes run far below their steady rate until their
   * code is optimised, which takes a number of calls, not of seconds. On time alone, 16 workers
   * (a few hundred units a second each) could look steady while still warming: one run measured
   * a mode after 8 s at 0.64 of the ceiling, its workers spending a third more CPU per hash than
   * the same code warmed longer (the warm-up times are in bench/README.md's pipeline table).
   */
  warmupUnitsPerWorker: 10_000,
  warmupMaxSeconds: Number(process.env.BENCH_PIPELINE_WARMUP_MAX_SECONDS ?? 60),
  warmupWindowSeconds: 4,
};
/**
 * Each worker adds its count to Redis once a second, counting from when it was last resumed (its
 * flush timer, overdue, fires at SIGCONT, then every second), so a group's workers flush in step.
 * A window read at whole seconds from the resume raced every flush at once, counting or missing a
 * second of all of them (the rounds of one mode then ranged over a third either way); read from
 * half a second after one, a window of whole seconds holds exactly its number of flushes.
 */
const SETTLE_SECONDS = 2.5;

export interface PipelineRun {
  workers: number;
  mode: string;
  /** Hashes per second: the median round and the range. */
  rate: Spread;
  rounds: number[];
  /** CPU µs per hash of the mode's workers (together), its rng and its hasher: the median round of each. */
  cpuUsPerHash: Record<CpuPart, number>;
  warmupSeconds: number;
  workerErrors: number;
  /** Workers that exited before the end (the bare loop dies on any error): the rate is void. */
  workersExited: number;
}

const CPU_PARTS = ['workers', 'rng', 'hasher'] as const;
type CpuPart = (typeof CPU_PARTS)[number];

/** A counter in its own Redis database. */
async function counterIn(database: string) {
  const counter = createClient({ url: database });
  counter.on('error', (err: Error) => say(`redis client: ${err.message}`));
  await counter.connect();
  onCleanup(async () => counter.isOpen && counter.destroy());
  await counter.set('hashes', 0);
  /** Hashes per second counted over the next `seconds`, and the CPU `procs` used per hash meanwhile. */
  return async (seconds: number, procs?: Record<CpuPart, Proc[]>) => {
    const cpu = () => Object.fromEntries(CPU_PARTS.map((part) => [part, procs ? procs[part].reduce((ms, p) => ms + cpuMs(p), 0) : 0]));
    const before = { hashes: Number(await counter.get('hashes')), at: performance.now(), cpu: cpu() };
    await delay(seconds * 1000);
    const after = { hashes: Number(await counter.get('hashes')), at: performance.now(), cpu: cpu() };
    const hashes = after.hashes - before.hashes;
    const cpuUsPerHash = Object.fromEntries(CPU_PARTS.map((part) => [part, ((after.cpu[part]! - before.cpu[part]!) * 1000) / hashes])) as Record<CpuPart, number>;
    return { rate: (hashes * 1000) / (after.at - before.at), cpuUsPerHash };
  };
}

/** Starts `count` workers of `mode`, then stops them (SIGSTOP) until their turn. */
async function startedGroup(mode: Mode, count: number, database: string, upstream: { ours: Proc[]; bare: Proc[] }) {
  const rateOver = await counterIn(database);
  const [rng, hasher] = mode.bare ? upstream.bare : upstream.ours;
  const workers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      start(mode.bare ? 'bare-worker' : 'worker', {
        REDIS_URL: database,
        ...ZERO_DELAYS,
        RNG_URL: rng!.url,
        HASHER_URL: hasher!.url,
        // A response awaited when its worker is stopped must not time out while it waits
        // (connecting keeps its own 2 s bound).
        CALL_TIMEOUT_MS: '120000',
        INSTANCE_NAME: `bench-worker-${i + 1}`,
        ...mode.env,
      }),
    ),
  );
  for (const w of workers) w.child.kill('SIGSTOP');
  return { workers, rateOver, servers: { rng: [rng!], hasher: [hasher!] }, warmupSeconds: 0 };
}
type Group = Awaited<ReturnType<typeof startedGroup>>;

/**
 * Warms every group in turns, window after window, until each one's workers have done
 * warmupUnitsPerWorker units and its last two windows agree within 15 %, or it has run
 * warmupMaxSeconds. In turns, not one group after the other: a group stopped while the others
 * warmed one by one waited minutes, which a running worker never does (the servers closed its
 * idle connections after their 72 s keep-alive timeout, and V8 took it for idle), and it measured
 * slower for the rest of the run than a group warmed last.
 */
async function warmUp(groups: Group[], count: number): Promise<void> {
  const { warmupWindowSeconds: window, warmupMaxSeconds, warmupUnitsPerWorker } = PIPELINE_SETTINGS;
  // Counted between the workers' flushes (SETTLE_SECONDS).
  const settle = SETTLE_SECONDS % 1;
  const states = groups.map((group) => ({ group, units: 0, previous: 0, warm: false }));
  const everyWorker = groups.flatMap((g) => g.workers);
  while (states.some((s) => !s.warm && s.group.warmupSeconds < warmupMaxSeconds)) {
    for (const s of states) {
      runOnly(s.group.workers, everyWorker);
      await delay(settle * 1000);
      const { rate } = await s.group.rateOver(window);
      s.group.warmupSeconds += settle + window;
      s.units += rate * window;
      s.warm ||= s.units / count >= warmupUnitsPerWorker && s.previous > 0 && Math.abs(rate - s.previous) <= 0.15 * s.previous;
      s.previous = rate;
    }
  }
  for (const w of everyWorker) w.child.kill('SIGSTOP');
}

/**
 * Every mode at each number of workers. `ours`: the rng and hasher our workers call (their
 * peak RSS is added to `peak`); the bare loops call two bare servers.
 */
export async function pipelineRuns(redisUrl: string, ours: Proc[], peak: Map<Proc, number>): Promise<{ runs: PipelineRun[]; workerPeakMB: number }> {
  const bare = [await start('bare'), await start('bare')];
  const runs: PipelineRun[] = [];
  let workerPeakMB = 0;
  try {
    for (const count of PIPELINE_SETTINGS.workers) {
      const groups = new Map<Mode, Group>();
      for (const [index, mode] of MODES.entries()) {
        say(`pipeline: ${count} workers, ${mode.name}, starting...`);
        groups.set(mode, await startedGroup(mode, count, `${redisUrl}/${index + 1}`, { ours, bare }));
      }
      say(`pipeline: ${count} workers, warm-up in turns...`);
      await warmUp([...groups.values()], count);
      const { rounds, roundSeconds } = PIPELINE_SETTINGS;
      say(`pipeline: ${count} workers, ${rounds} rounds of ${roundSeconds} s per mode...`);
      const turns = Object.fromEntries(
        [...groups].map(([mode, group]) => [
          mode.name,
          {
            procs: group.workers,
            run: () => delay(SETTLE_SECONDS * 1000).then(() => group.rateOver(roundSeconds, { workers: group.workers, ...group.servers })),
          },
        ]),
      );
      const everyWorker = [...groups.values()].flatMap((g) => g.workers);
      const measured = await peakRss([...everyWorker, ...ours], () => inTurns(turns, rounds));
      for (const p of ours) peak.set(p, Math.max(peak.get(p) ?? 0, measured.peak.get(p)!));
      for (const [mode, group] of groups) {
        if (!mode.bare) for (const w of group.workers) workerPeakMB = Math.max(workerPeakMB, measured.peak.get(w)!);
        const rounds = measured.result[mode.name]!;
        const rates = rounds.map((r) => r.rate);
        runs.push({
          workers: count,
          mode: mode.name,
          rate: spread(rates),
          rounds: rates,
          cpuUsPerHash: Object.fromEntries(CPU_PARTS.map((part) => [part, median(rounds.map((r) => r.cpuUsPerHash[part]))])) as Record<CpuPart, number>,
          warmupSeconds: group.warmupSeconds,
          workerErrors: mode.bare ? 0 : (await workerCounts(group.workers)).errors,
          workersExited: group.workers.filter((w) => w.child.exitCode !== null).length,
        });
        await Promise.all(group.workers.map((w) => w.stop()));
      }
    }
  } finally {
    await Promise.all(bare.map((p) => p.stop()));
  }
  return { runs, workerPeakMB };
}

/**
 * The ceiling at each number of workers: the bare mode with the better median, and each
 * mode's per-round ratio to it (rounds run in turns, so round r of each mode are neighbours).
 */
export function ceilings(runs: PipelineRun[]) {
  return PIPELINE_SETTINGS.workers.map((workers) => {
    const at = runs.filter((r) => r.workers === workers);
    const ceiling = at
      .filter((r) => MODES.find((m) => m.name === r.mode)!.bare && r.workersExited === 0)
      .reduce<PipelineRun | undefined>((best, r) => (!best || r.rate.median > best.rate.median ? r : best), undefined);
    const ratios = Object.fromEntries(
      at.map((r) => [r.mode, ceiling ? spread(r.rounds.map((rate, round) => rate / ceiling.rounds[round]!)) : undefined]),
    );
    return { workers, ceiling: ceiling?.mode, ratios };
  });
}
