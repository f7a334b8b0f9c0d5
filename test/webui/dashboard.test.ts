// The real Sampler, driven tick by tick with an injected clock and a store that simulated
// workers write to as the real ones do: units end one after the other, each worker flushes
// once a second what it finished (the counter and its report together), a counter-only
// worker (the original's) only increments the counter. Nothing of the sampler's windowing
// is re-implemented here: the assertions are on the dashboards it publishes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallStats, WorkerReport } from '../../src/lib/store.js';
import type { Dashboard } from '../../src/webui/dashboard.js';
import { Sampler, type StoreReader } from '../../src/webui/sampler.js';

const TICK_MS = 500;
const FLUSH_MS = 1000;

interface SimulatedWorker {
  name: string;
  /** Time one unit takes, ms, as a function of the time it starts. */
  unitMs: (t: number) => number;
  startAt?: number;
  stopAt?: number;
  /** Offset of its flushes within the second. */
  phase?: number;
  /** Calls each report states: rng-1 taking this many ms each (one call a unit). */
  rngMs?: (t: number) => number;
  /** Only increments the counter (no report). */
  counterOnly?: boolean;
}

/** Redis as the workers leave it; `down` makes every read fail. */
class SimulatedStore implements StoreReader {
  hashes = 0;
  reports = new Map<string, WorkerReport>();
  down = false;
  private check() {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }
  async readTotals() {
    this.check();
    return { coins: 0, hashes: String(this.hashes) };
  }
  async readReports() {
    this.check();
    return [...this.reports.values()];
  }
  async readRecentCoins() {
    this.check();
    return [];
  }
}

/** A flush, in time order: what it adds to the counter and the report it writes. */
interface Flush {
  at: number;
  units: number;
  report?: WorkerReport;
}

function flushesOf(w: SimulatedWorker, untilMs: number): Flush[] {
  const start = w.startAt ?? 0;
  const stop = w.stopAt ?? untilMs;
  const unitEnds: number[] = [];
  for (let t = start + w.unitMs(start); t < stop; t += w.unitMs(t)) unitEnds.push(t);
  const flushes: Flush[] = [];
  let last = start;
  const flushAt = (at: number, final: boolean) => {
    const units = unitEnds.filter((t) => t > last && t <= at).length;
    const rng: Record<string, CallStats> = w.rngMs ? { 'rng-1': { calls: units, totalMs: units * w.rngMs(at), maxMs: w.rngMs(at) } } : {};
    const report = { worker: w.name, at, intervalMs: at - last, units, rng, hasher: {}, ...(final ? { final } : {}) };
    flushes.push({ at, units, ...(w.counterOnly ? {} : { report }) });
    last = at;
  };
  for (let at = start + (w.phase ?? 1); at < stop; at += FLUSH_MS) if (at > start) flushAt(at, false);
  if (stop < untilMs) flushAt(stop, true);
  return flushes;
}

interface Run {
  store: SimulatedStore;
  dashboards: Dashboard[];
  sampler: Sampler;
}

/**
 * Runs the workers until `untilMs`, the sampler ticking every 500 ms from `sampleFrom`.
 * `during(now, run)` may change the store before each tick (Redis down, say); returning
 * false skips that tick (a sampler late by more than a flush).
 */
async function simulate(
  workers: SimulatedWorker[],
  untilMs: number,
  options: { sampleFrom?: number; during?: (now: number, run: Run) => boolean | void } = {},
): Promise<Run> {
  const flushes = workers.flatMap((w) => flushesOf(w, untilMs).map((f) => ({ ...f, worker: w.name }))).sort((a, b) => a.at - b.at);
  let now = 0;
  const store = new SimulatedStore();
  const run: Run = { store, dashboards: [], sampler: new Sampler({ store, now: () => now }) };
  for (let tick = 0; tick <= untilMs; tick += TICK_MS) {
    while (flushes.length > 0 && flushes[0]!.at <= tick) {
      const flush = flushes.shift()!;
      if (store.down) continue; // the simulated workers here keep no counts: what matters is what the sampler reads
      store.hashes += flush.units;
      if (flush.report) store.reports.set(flush.worker, flush.report);
    }
    now = tick;
    if (tick < (options.sampleFrom ?? 0) || options.during?.(tick, run) === false) continue;
    run.dashboards.push(await run.sampler.tick());
  }
  return run;
}

const workersOf = (count: number, unitMs: number, options: Partial<SimulatedWorker> = {}, first = 1) =>
  Array.from({ length: count }, (_, i) => ({ name: `worker-${first + i}`, unitMs: () => unitMs, phase: ((i * 137) % FLUSH_MS) + 1, ...options }));
const counterOnly = (unitsPerFlush: number): SimulatedWorker => ({ name: 'original', unitMs: () => FLUSH_MS / unitsPerFlush, phase: 700, counterOnly: true });
/** The dashboards of a window, which must reach its end: a loop over none would check nothing. */
const between = (run: Run, fromMs: number, toMs: number) => {
  const found = run.dashboards.filter((d) => d.at >= fromMs && d.at <= toMs);
  assert.equal(found.at(-1)?.at, toMs, `dashboards from ${fromMs} to ${toMs} ms: ${found.length}, the last at ${found.at(-1)?.at}`);
  return found;
};
const at = (run: Run, ms: number) => run.dashboards.find((d) => d.at === ms)!;
const near = (value: number | null, expected: number, tolerance: number) => value !== null && Math.abs(value / expected - 1) <= tolerance;

describe('Sampler: the speed', () => {
  it('one worker at 300 ms a unit reads 3.3, never the sawtooth 4-4-0', async () => {
    const run = await simulate(workersOf(1, 300), 60_000);
    for (const d of between(run, 12_000, 60_000)) assert.ok(Math.abs(d.speed! - 10 / 3) <= 0.11, `read ${d.speed} at ${d.at}`);
    assert.equal(at(run, 30_000).unreported, 0);
  });

  it('10 workers flushing in step read 33.3 within 2.5 %', async () => {
    // The worst case: every worker's count off by the same unit at the same time (33 or 34).
    const run = await simulate(workersOf(10, 300, { phase: 1 }), 40_000);
    for (const d of between(run, 12_000, 40_000)) assert.ok(near(d.speed, 100 / 3, 0.025), `read ${d.speed}`);
  });

  it('a counter-only worker beside ours: its work shows as such and adds up', async () => {
    const run = await simulate([...workersOf(1, 300), counterOnly(3)], 40_000);
    for (const d of between(run, 11_000, 40_000)) {
      assert.ok(near(d.unreported, 3, 0.12), `unreported ${d.unreported} at ${d.at}`);
      assert.ok(near(d.speed, 10 / 3 + 3, 0.08), `speed ${d.speed} at ${d.at}`);
    }
    assert.equal(at(run, 20_000).workers.count, 1);
  });

  it('only counter-only workers: their speed, and no "no worker"', async () => {
    const run = await simulate([counterOnly(4)], 30_000);
    const d = at(run, 25_000);
    assert.ok(near(d.speed, 4, 0.1), `speed ${d.speed}`);
    assert.equal(d.workers.count, 0);
    assert.match(d.status.text, /^Only workers that do not report/);
  });

  it('after a webui restart: "measuring" for the first seconds, then right', async () => {
    const run = await simulate([...workersOf(3, 300), counterOnly(3)], 40_000, { sampleFrom: 20_000 });
    const measuring = run.dashboards.filter((d) => d.speed === null);
    assert.ok(measuring.length > 0 && measuring.every((d) => d.at < 25_000 && d.status.kind === 'measuring'), `${measuring.length} measuring`);
    const told = run.dashboards.filter((x) => x.speed !== null);
    assert.ok(told.length > 0 && told.at(-1)!.at === 40_000, `speeds told: ${told.length}`);
    for (const d of told) assert.ok(near(d.speed, 13, 0.1), `speed ${d.speed} at ${d.at}`);
  });

  it('a sample late by more than a flush: the overwritten report is not taken for another worker', async () => {
    const run = await simulate(workersOf(2, 300), 40_000, { during: (now) => !(now >= 20_000 && now < 21_500) });
    for (const d of between(run, 12_000, 40_000)) {
      assert.equal(d.unreported, 0, `at ${d.at}`);
      assert.ok(near(d.speed, 20 / 3, 0.08), `speed ${d.speed} at ${d.at}`);
    }
  });
});

describe('Sampler: transitions and states', () => {
  it('1 → 10 → 1 workers: the stopped ones leave at once, no figure above the counter', async () => {
    const nine = workersOf(9, 300, { startAt: 20_000, stopAt: 40_000 }, 2);
    const run = await simulate([...workersOf(1, 300), ...nine], 60_000);
    assert.ok(at(run, 23_000).speed! > 0.75 * (100 / 3), `3 s after scaling up: ${at(run, 23_000).speed}`);
    assert.equal(at(run, 40_000).workers.count, 1, 'the last reports remove them at the next sample');
    for (const d of between(run, 40_000, 60_000)) assert.ok(d.speed! <= (10 / 3) * 1.1, `${d.speed} at ${d.at}`);
    assert.match(at(run, 30_000).workers.summary, /^10 workers, 3\.3 hashes\/s each; slowest worker-\d+ 3\.[23]$/);
    assert.deepEqual(at(run, 30_000).workers.rows, [], 'collapsed beyond 3');
  });

  it('the bottleneck sentence holds 3 s before it appears or goes, and never names a 0 ms wait', async () => {
    // 10 workers on one rng from 20 s to 40 s: calls queue for 700 ms; before and after, no queue.
    const rngMs = (t: number) => (t > 20_000 && t <= 40_000 ? 800 : 100);
    const run = await simulate(workersOf(10, 1000, { rngMs }), 60_000);
    const shown = run.dashboards.filter((d) => d.status.kind === 'bottleneck');
    const first = shown[0]!.at;
    const last = shown.at(-1)!.at;
    assert.ok(first >= 23_000 && first <= 26_000, `appears at ${first}`);
    assert.ok(last >= 43_000 && last <= 48_000, `goes after ${last}`);
    assert.ok(shown.every((d, i) => i === 0 || d.at - shown[i - 1]!.at === TICK_MS), 'no flicker');
    for (const d of shown) assert.match(d.status.text, /^rng \(1 instance\) is saturated: each call waits [1-9]\d* ms in its queue; add rng instances$/);
    assert.equal(at(run, 35_000).rng.instances[0]!.rate, 10);
  });

  it('Redis down then back empty: the last figures stay, marked stale, the chart has a gap, then measured anew', async () => {
    const run = await simulate([...workersOf(2, 300), counterOnly(3)], 60_000, {
      during: (now, { store }) => {
        store.down = now >= 20_000 && now < 30_000;
        if (now === 30_000) store.hashes = 0; // an empty Redis came back
      },
    });
    const before = at(run, 19_500);
    const down = at(run, 25_000);
    assert.equal(down.redis.downSince, 20_000);
    assert.equal(down.redis.lastGoodAt, 19_500);
    assert.equal(down.status.kind, 'redis-down');
    assert.equal(down.speed, before.speed, 'the last good figure');
    const [times, speeds] = run.sampler.history;
    const gap = times.map((t, i) => [t, speeds[i]] as const).filter(([t]) => t >= 20 && t < 30);
    assert.ok(gap.length >= 9 && gap.every(([, s]) => s === null), 'a gap, not a drop to 0');
    assert.equal(at(run, 30_000).redis.downSince, null);
    // Said though the counter was not read in between, and kept for the chart's 5 minutes.
    assert.deepEqual(at(run, 30_000).counterReset, { at: 30_000, from: Number(before.hashes), to: 0 });
    assert.deepEqual(at(run, 60_000).counterReset, at(run, 30_000).counterReset);
    assert.equal(before.counterReset, null);
    assert.equal(at(run, 32_000).status.kind, 'measuring');
    for (const d of between(run, 36_000, 60_000)) assert.ok(near(d.speed, 20 / 3 + 3, 0.12), `speed ${d.speed} at ${d.at}`);
  });

  it('no worker running: said as such once the counter stands still', async () => {
    const run = await simulate(workersOf(2, 300, { stopAt: 20_000 }), 40_000);
    assert.equal(at(run, 20_500).workers.count, 0);
    assert.notEqual(at(run, 25_000).status.kind, 'no-worker', 'the counter moved in the last 10 s');
    assert.equal(at(run, 31_000).status.kind, 'no-worker');
    assert.equal(at(run, 31_000).speed, 0);
  });
});
