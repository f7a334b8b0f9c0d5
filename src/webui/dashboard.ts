// The dashboard's model, computed from what the webui samples from the store: the totals
// and the reports the workers write at each flush. Pure functions: the sampler
// (sampler.ts) feeds them, the page only displays what they return.
import type { CallStats, WorkerReport } from '../lib/store.js';

/** A worker report and when the webui first saw it (its own clock: worker clocks may differ). */
export interface SeenReport {
  seenAt: number;
  report: WorkerReport;
}

export interface WorkerRow {
  name: string;
  /** Hashes per second over the rates window. */
  rate: number;
}

export interface InstanceRow {
  name: string;
  /** Calls per second it served, over the rates window. */
  rate: number;
  /** Mean and longest time a call took, as the workers saw it (queue included), ms. */
  meanMs: number;
  maxMs: number;
}

export interface DependencyModel {
  instances: InstanceRow[];
  /** Share of the workers' time spent waiting for this dependency, 0..1. */
  share: number;
  meanMs: number;
}

export interface Dashboard {
  /** Unix time of the sample, ms. */
  at: number;
  /** Hashes per second, the sum of the workers' rates; null while the store cannot be read. */
  speed: number | null;
  hashes: number | null;
  coins: number;
  recentCoins: string[];
  workers: WorkerRow[];
  rng: DependencyModel;
  hasher: DependencyModel;
  /** One plain sentence naming the bottleneck, or null when there is none. */
  bottleneck: string | null;
  /** Set when the store could not be read; the other figures are then the last known. */
  error?: string;
}

/**
 * Speed. The counter only moves when a worker flushes (once a second), so the counter read at
 * arbitrary moments steps by whole flushes: the original page's 4-4-0 for one worker, and
 * still ±5 % over 10 s for ten workers flushing in step. Each report instead states exactly
 * how many units were done in which interval, so each worker's rate is its units over the
 * time its reports cover, and the speed is the sum over the workers that are still reporting.
 * A worker's count over a span is off by less than one unit (the one in progress at each
 * end), so one worker's 3.33/s reads 3.3–3.4 over 10 s; the last 3 s take over when they
 * differ by more than that rounding, so a change shows within 2–3 s. A new worker counts
 * from its first report (~1 s); a stopped one drops out once it misses its flushes.
 */
export const LONG_WINDOW_MS = 10_000;
export const SHORT_WINDOW_MS = 3_000;
/** Per-instance rates and latencies use the reports seen in this window. */
export const RATES_WINDOW_MS = 5_000;
/** A worker that has not reported for this long (or 2.5 of its flush intervals) has stopped. */
export const STALE_MS = 3_000;
/** Workers spending more than this share of their time waiting for a dependency are held back by it. */
export const BOTTLENECK_SHARE = 0.5;

/** One worker's rate from its reports (oldest first), in units per second. */
export function workerRate(reports: readonly SeenReport[], now: number): number {
  const over = (windowMs: number) => {
    const within = reports.filter((r) => r.seenAt > now - windowMs);
    const spanMs = sum(within, (r) => r.report.intervalMs);
    return { rate: perSecond(sum(within, (r) => r.report.units), spanMs), spanMs };
  };
  const long = over(LONG_WINDOW_MS);
  const short = over(SHORT_WINDOW_MS);
  if (short.spanMs === 0) return long.rate;
  const rounding = 1000 / short.spanMs + 1000 / long.spanMs;
  return Math.abs(short.rate - long.rate) > rounding ? short.rate : long.rate;
}

export interface DashboardInput {
  now: number;
  /** Reports seen in the last LONG_WINDOW_MS at least. */
  reports: readonly SeenReport[];
  hashes: number | null;
  coins: number;
  recentCoins: string[];
  error?: string;
}

export function buildDashboard(input: DashboardInput): Dashboard {
  const { now } = input;
  const byWorker = new Map<string, SeenReport[]>();
  for (const seen of [...input.reports].sort((a, b) => a.seenAt - b.seenAt)) {
    byWorker.set(seen.report.worker, [...(byWorker.get(seen.report.worker) ?? []), seen]);
  }
  const live = [...byWorker].filter(([, reports]) => {
    const last = reports.at(-1)!;
    return now - last.seenAt <= Math.max(STALE_MS, 2.5 * last.report.intervalMs);
  });
  const workers = live.map(([name, reports]) => ({ name, rate: workerRate(reports, now) })).sort(byName);

  const recent = live.flatMap(([, reports]) => reports.filter((r) => r.seenAt > now - RATES_WINDOW_MS).map((r) => r.report));
  // Each worker's reports cover back-to-back intervals: their sum is the time they describe.
  const spans = new Map<string, number>();
  for (const report of recent) spans.set(report.worker, (spans.get(report.worker) ?? 0) + report.intervalMs);

  const dependency = (kind: 'rng' | 'hasher'): DependencyModel => {
    const instances = new Map<string, { rate: number; calls: number; totalMs: number; maxMs: number }>();
    let waitedShare = 0;
    for (const report of recent) {
      const span = spans.get(report.worker)!;
      for (const [name, stats] of Object.entries(report[kind]) as [string, CallStats][]) {
        const row = instances.get(name) ?? { rate: 0, calls: 0, totalMs: 0, maxMs: 0 };
        row.rate += perSecond(stats.calls, span);
        row.calls += stats.calls;
        row.totalMs += stats.totalMs;
        row.maxMs = Math.max(row.maxMs, stats.maxMs);
        instances.set(name, row);
        waitedShare += span > 0 ? stats.totalMs / span : 0;
      }
    }
    const rows = [...instances].map(([name, r]) => ({
      name,
      rate: r.rate,
      meanMs: r.calls > 0 ? r.totalMs / r.calls : 0,
      maxMs: r.maxMs,
    }));
    const calls = sum([...instances.values()], (r) => r.calls);
    return {
      instances: rows.sort(byName),
      share: spans.size > 0 ? waitedShare / spans.size : 0,
      meanMs: calls > 0 ? sum([...instances.values()], (r) => r.totalMs) / calls : 0,
    };
  };

  const rng = dependency('rng');
  const hasher = dependency('hasher');
  return {
    at: now,
    speed: input.error ? null : sum(workers, (w) => w.rate),
    hashes: input.hashes,
    coins: input.coins,
    recentCoins: input.recentCoins,
    workers,
    rng,
    hasher,
    bottleneck: bottleneckOf(rng, hasher),
    ...(input.error ? { error: input.error } : {}),
  };
}

/**
 * Names the dependency the workers spend most of their time waiting for, when that is more
 * than half of it. rng serves one call at a time (the contract): a busy instance serving R
 * calls/s spends 1/R s on each, so whatever a call takes beyond that is time in its queue.
 * hasher serves calls concurrently: it is simply slow.
 */
export function bottleneckOf(rng: DependencyModel, hasher: DependencyModel): string | null {
  const [kind, dep] = rng.share >= hasher.share ? (['rng', rng] as const) : (['hasher', hasher] as const);
  if (dep.share <= BOTTLENECK_SHARE || dep.instances.length === 0) return null;
  const count = `${kind} (${dep.instances.length} instance${dep.instances.length === 1 ? '' : 's'})`;
  if (kind === 'rng') {
    const calls = sum(dep.instances, (i) => i.rate);
    const queuedMs = sum(dep.instances, (i) => i.rate * Math.max(0, i.meanMs - 1000 / i.rate)) / calls;
    return `${count} is saturated: each call waits ${roundMs(queuedMs)} ms in its queue; add rng instances`;
  }
  return `${count} is the bottleneck: each call takes ${roundMs(dep.meanMs)} ms; add hasher instances`;
}

function roundMs(ms: number): number {
  return ms >= 100 ? Math.round(ms / 10) * 10 : Math.round(ms);
}

function perSecond(count: number, spanMs: number): number {
  return spanMs > 0 ? (count * 1000) / spanMs : 0;
}

function sum<T>(items: Iterable<T>, value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name, 'en', { numeric: true });
