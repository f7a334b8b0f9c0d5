// The dashboard's model: pure functions of what the sampler (sampler.ts) gathered from the
// store: the worker reports it has seen and the speed the hash counter supports. The page
// only displays what they return; figures are rounded here to what the page shows, so that
// the event stream (events.ts) only carries what visibly changed.
import type { CallStats, WorkerReport } from '../lib/store.js';

/** A worker report and when the webui first saw it (its own clock: worker clocks may differ). */
export interface SeenReport {
  seenAt: number;
  report: WorkerReport;
  /** Stands in for a report overwritten unseen: its units are an estimate. */
  estimated?: boolean;
}

export interface WorkerRow {
  name: string;
  /** Hashes per second. */
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
  /** Share of the workers' time spent waiting for this dependency, whole percent. */
  percent: number;
}

export interface Bottleneck {
  kind: 'rng' | 'hasher';
  text: string;
}

export type StatusKind = 'redis-down' | 'bad-data' | 'measuring' | 'no-worker' | 'bottleneck' | 'normal';

/** The counter went down (Redis restarted empty, or something else wrote it): when, from and to what. */
export interface CounterReset {
  at: number;
  from: number;
  to: number;
}

export interface Dashboard {
  /** Unix time of the sample, ms. */
  at: number;
  /** Hashes per second of all the work; null while measuring (the first seconds of a counter). */
  speed: number | null;
  /** The part of it our workers report, and how many of them there are. */
  reported: number;
  /** The rest of what the counter gained: workers that do not report (the original's); null while measuring. */
  unreported: number | null;
  hashes: number | null;
  coins: number;
  /** The newest coins: the start of their hex, and when the webui first saw them (null: before it started). */
  recentCoins: { hex: string; at: number | null }[];
  /** One row each up to COLLAPSE_ABOVE workers; beyond, only `summary`. `shared`: names given to more than one running worker. */
  workers: { count: number; rows: WorkerRow[]; summary: string; shared: string | null };
  /** The last time the counter went down, within the chart's span; null if it has not. */
  counterReset: CounterReset | null;
  rng: DependencyModel;
  hasher: DependencyModel;
  /** What the sentence under the figures says: a state, the bottleneck, or how time is spent. */
  status: { kind: StatusKind; text: string };
  /** Redis: since when it cannot be read, and when it last could (both null while it can). */
  redis: { downSince: number | null; lastGoodAt: number | null; error?: string };
}

/**
 * Speed of a worker. Each report states exactly how many units were done in which interval,
 * so a worker's rate is its units over the time its reports cover. A worker's count over a
 * span is off by less than one unit (the one in progress at each end), so one worker's
 * 3.33/s reads 3.3–3.4 over 10 s; the last 3 s take over when they differ by more than that
 * rounding, so a change shows within 2–3 s.
 */
export const LONG_WINDOW_MS = 10_000;
export const SHORT_WINDOW_MS = 3_000;
/** Per-instance rates and latencies use the reports seen in this window. */
export const RATES_WINDOW_MS = 5_000;
/** A worker that has not reported for this long (or 2.5 of its flush intervals) has stopped. */
export const STALE_MS = 3_000;
/** Workers spending more than this share of their time waiting for a dependency are held back by it. */
export const BOTTLENECK_SHARE = 0.5;
/** Beyond this many workers, the page shows one line about them all. */
export const COLLAPSE_ABOVE = 3;
const COIN_PREFIX = 12;
/** The page shows this many of the newest coins (each new coin resends them). */
const COINS_SHOWN = 8;

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
  /** Hashes/s the counter gained beyond the reports; null while measuring. */
  unreported: number | null;
  /** The most the counter gained per second over a window of SHORT_WINDOW_MS or more ending now: the speed never exceeds it. */
  counterRate: number | null;
  counterReset: CounterReset | null;
  /** True when the counter has not moved over the whole window. */
  counterStill: boolean;
  hashes: number | null;
  coins: number;
  recentCoins: { hex: string; at: number | null }[];
  /** Holds the bottleneck steady (the sampler's): takes this sample's, returns the one to show. */
  steadyBottleneck: (bottleneck: Bottleneck | null) => string | null;
  redis: Dashboard['redis'];
}

/** Who wrote a report: its process, so that workers sharing a name count as many (older workers: the name). */
export const workerId = (report: WorkerReport) => report.process ?? report.worker;

/** The workers still running, by workerId: reported recently, and not a last report. */
export function liveWorkers(reports: readonly SeenReport[], now: number): Map<string, SeenReport[]> {
  const byWorker = new Map<string, SeenReport[]>();
  for (const seen of [...reports].sort((a, b) => a.seenAt - b.seenAt)) {
    const list = byWorker.get(workerId(seen.report));
    if (list) list.push(seen);
    else byWorker.set(workerId(seen.report), [seen]);
  }
  for (const [name, list] of byWorker) {
    const last = list.at(-1)!;
    const stale = now - last.seenAt > Math.max(STALE_MS, 2.5 * last.report.intervalMs);
    // A worker that stops says so in its last report (`final`): it leaves at once.
    if (stale || last.report.final) byWorker.delete(name);
  }
  return byWorker;
}

/** rng and hasher as the live workers saw them over the rates window. */
export function dependencies(live: Map<string, SeenReport[]>, now: number): { rng: DependencyModel; hasher: DependencyModel } {
  const recent = [...live.values()].flatMap((reports) => reports.filter((r) => r.seenAt > now - RATES_WINDOW_MS).map((r) => r.report));
  // Each worker's reports cover back-to-back intervals: their sum is the time they describe.
  const spans = new Map<string, number>();
  for (const report of recent) spans.set(workerId(report), (spans.get(workerId(report)) ?? 0) + report.intervalMs);
  const dependency = (kind: 'rng' | 'hasher'): DependencyModel => {
    const instances = new Map<string, { rate: number; calls: number; totalMs: number; maxMs: number }>();
    let waitedShare = 0;
    for (const report of recent) {
      const span = spans.get(workerId(report))!;
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
      rate: round1(r.rate),
      meanMs: roundMs(r.calls > 0 ? r.totalMs / r.calls : 0),
      maxMs: roundMs(r.maxMs),
    }));
    return { instances: rows.sort(byName), percent: Math.round((spans.size > 0 ? waitedShare / spans.size : 0) * 100) };
  };
  return { rng: dependency('rng'), hasher: dependency('hasher') };
}

export function buildDashboard(input: DashboardInput): Dashboard {
  const { now } = input;
  const live = liveWorkers(input.reports, now);
  const rows = [...live.values()].map((reports) => ({ name: reports[0]!.report.worker, rate: workerRate(reports, now) })).sort(byName);
  const { rng, hasher } = dependencies(live, now);
  // Reports may state units the counter does not hold (it was reset, or decremented): the
  // counter caps the total, and what the reports cannot explain is the rest.
  const speed = input.unreported === null ? null : Math.min(sum(rows, (w) => w.rate) + input.unreported, input.counterRate ?? Infinity);
  const reported = Math.min(sum(rows, (w) => w.rate), speed ?? Infinity);
  return {
    at: now,
    speed: speed === null ? null : round1(speed),
    reported: round1(reported),
    unreported: speed === null ? null : round1(speed - reported),
    hashes: input.hashes,
    coins: input.coins,
    recentCoins: input.recentCoins.slice(0, COINS_SHOWN).map((c) => ({ hex: c.hex.slice(0, COIN_PREFIX), at: c.at })),
    workers: {
      count: rows.length,
      rows: rows.length <= COLLAPSE_ABOVE ? rows.map((w) => ({ name: w.name, rate: round1(w.rate) })) : [],
      summary: workersSummary(rows),
      shared: sharedNames(rows),
    },
    counterReset: input.counterReset,
    rng,
    hasher,
    status: statusOf(input, rows.length, rng, hasher, input.steadyBottleneck(bottleneckOf(rng, hasher))),
    redis: input.redis,
  };
}

/** "10 workers, 1.0 hashes/s each; slowest worker-7 0.9". */
export function workersSummary(rows: readonly WorkerRow[]): string {
  if (rows.length === 0) return 'No worker reports';
  const each = sum(rows, (w) => w.rate) / rows.length;
  const slowest = rows.reduce((a, b) => (b.rate < a.rate ? b : a));
  const plural = rows.length === 1 ? 'worker' : 'workers';
  return `${rows.length} ${plural}, ${each.toFixed(1)} hashes/s each${rows.length > 1 ? `; slowest ${slowest.name} ${slowest.rate.toFixed(1)}` : ''}`;
}

/** "2 running workers are named worker-1: each is counted; give each its own INSTANCE_NAME." */
function sharedNames(rows: readonly WorkerRow[]): string | null {
  const counts = new Map<string, number>();
  for (const { name } of rows) counts.set(name, (counts.get(name) ?? 0) + 1);
  const shared = [...counts].filter(([, n]) => n > 1);
  if (shared.length === 0) return null;
  const names = shared.map(([name, n]) => `${n} running workers are named ${name}`).join(', ');
  return `${names}: each is counted; give each its own INSTANCE_NAME to tell them apart.`;
}

function statusOf(
  input: DashboardInput,
  workers: number,
  rng: DependencyModel,
  hasher: DependencyModel,
  bottleneck: string | null,
): Dashboard['status'] {
  // The page writes the Redis sentence itself: its times are in the viewer's time zone.
  if (input.redis.downSince !== null) return { kind: 'redis-down', text: '' };
  if (input.unreported === null) return { kind: 'measuring', text: 'Measuring the speed from the hash counter…' };
  if (workers === 0 && input.counterStill) {
    return { kind: 'no-worker', text: 'No worker is running: none has reported and the hash counter has not moved in the last 10 s.' };
  }
  if (bottleneck) return { kind: 'bottleneck', text: bottleneck };
  if (workers === 0) return { kind: 'normal', text: 'Only workers that do not report are running: the hash counter gives their speed, not what they wait for.' };
  return { kind: 'normal', text: `Workers spend ${rng.percent}% of their time waiting for rng, ${hasher.percent}% for hasher.` };
}

/**
 * The bottleneck, when the workers spend more than half of their time waiting for one
 * dependency. rng serves one call at a time (the contract): a busy instance serving R calls/s
 * spends 1/R s on each, so whatever a call takes beyond that is time in its queue. hasher
 * serves calls concurrently: it is simply slow. Returns which one and the sentence.
 */
export function bottleneckOf(rng: DependencyModel, hasher: DependencyModel): Bottleneck | null {
  const [kind, dep] = rng.percent >= hasher.percent ? (['rng', rng] as const) : (['hasher', hasher] as const);
  if (dep.percent <= BOTTLENECK_SHARE * 100 || dep.instances.length === 0) return null;
  const count = `${kind} (${dep.instances.length} instance${dep.instances.length === 1 ? '' : 's'})`;
  const calls = sum(dep.instances, (i) => i.rate);
  const meanMs = calls > 0 ? sum(dep.instances, (i) => i.rate * i.meanMs) / calls : 0;
  if (kind === 'rng') {
    const queuedMs = calls > 0 ? sum(dep.instances, (i) => i.rate * Math.max(0, i.meanMs - 1000 / i.rate)) / calls : 0;
    // A queue of a few ms is no queue: the sentence then says how long calls take.
    if (roundMs(queuedMs) >= 10) return { kind, text: `${count} is saturated: each call waits ${roundMs(queuedMs)} ms in its queue; add rng instances` };
  }
  if (roundMs(meanMs) < 1) return null;
  return { kind, text: `${count} is the bottleneck: each call takes ${roundMs(meanMs)} ms; add ${kind} instances` };
}

export function roundMs(ms: number): number {
  return ms >= 100 ? Math.round(ms / 10) * 10 : Math.round(ms);
}

export const round1 = (n: number) => Math.round(n * 10) / 10;

function perSecond(count: number, spanMs: number): number {
  return spanMs > 0 ? (count * 1000) / spanMs : 0;
}

export function sum<T>(items: Iterable<T>, value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}

// One collator: localeCompare with options builds one per comparison, which took most of the
// sampler's time with 10,000 workers (bench/README.md, "The web UI's sampler at scale").
const names = new Intl.Collator('en', { numeric: true });
const byName = (a: { name: string }, b: { name: string }) => names.compare(a.name, b.name);
