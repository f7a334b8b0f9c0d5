import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CallStats, WorkerReport } from '../../src/lib/store.js';
import { buildDashboard, LONG_WINDOW_MS, type Dashboard, type SeenReport } from '../../src/webui/dashboard.js';

const TICK_MS = 500;
const FLUSH_MS = 1000;

interface SimulatedWorker {
  name: string;
  /** Time one unit takes, ms, as a function of the time it starts. */
  unitMs: (t: number) => number;
  startAt?: number;
  stopAt?: number;
  /** Offset of its flushes within the second. */
  phase: number;
}

/**
 * What the sampler sees when workers run as the real ones do: units end one after the other,
 * each worker flushes once a second the units finished since its last flush, and the sampler
 * picks each report up at its next tick. Returns the dashboard at every tick.
 */
function simulate(workers: SimulatedWorker[], untilMs: number): Dashboard[] {
  const reports: SeenReport[] = [];
  for (const w of workers) {
    const start = w.startAt ?? 0;
    const stop = w.stopAt ?? untilMs;
    const unitEnds: number[] = [];
    for (let t = start + w.unitMs(start); t < stop; t += w.unitMs(t)) unitEnds.push(t);
    let last = start;
    for (let flush = start + w.phase; flush <= stop; flush += FLUSH_MS) {
      if (flush === start) continue;
      const units = unitEnds.filter((t) => t > last && t <= flush).length;
      const report: WorkerReport = { worker: w.name, at: flush, intervalMs: flush - last, units, rng: {}, hasher: {} };
      reports.push({ seenAt: Math.ceil(flush / TICK_MS) * TICK_MS, report });
      last = flush;
    }
  }
  const dashboards: Dashboard[] = [];
  for (let now = 0; now <= untilMs; now += TICK_MS) {
    const visible = reports.filter((r) => r.seenAt <= now && r.seenAt > now - LONG_WINDOW_MS);
    dashboards.push(buildDashboard({ now, reports: visible, hashes: 0, coins: 0, recentCoins: [] }));
  }
  return dashboards;
}

const workersOf = (count: number, unitMs: number, options: Partial<SimulatedWorker> = {}, phase = (i: number) => (i * 137) % FLUSH_MS) =>
  Array.from({ length: count }, (_, i) => ({ name: `worker-${i + 1}`, unitMs: () => unitMs, phase: phase(i) + 1, ...options }));

const speedsBetween = (dashboards: Dashboard[], fromMs: number, toMs: number) =>
  dashboards.filter((d) => d.at >= fromMs && d.at <= toMs).map((d) => d.speed!);

describe('dashboard speed (from worker reports)', () => {
  it('one worker at 300 ms a unit reads 3.3, never the sawtooth 4-4-0', () => {
    const speeds = speedsBetween(simulate(workersOf(1, 300), 60_000), 12_000, 60_000);
    assert.ok(speeds.length > 90);
    for (const speed of speeds) assert.ok(Math.abs(speed - 10 / 3) <= 0.11, `read ${speed}`);
  });

  it('10 workers flushing in step read 33.3 within 2 %', () => {
    const speeds = speedsBetween(simulate(workersOf(10, 300, {}, () => 0), 60_000), 12_000, 60_000);
    for (const speed of speeds) assert.ok(Math.abs(speed / (100 / 3) - 1) <= 0.02, `read ${speed}`);
  });

  it('50 workers read 166.7 within 2 %', () => {
    const speeds = speedsBetween(simulate(workersOf(50, 300), 40_000), 12_000, 40_000);
    for (const speed of speeds) assert.ok(Math.abs(speed / (500 / 3) - 1) <= 0.02, `read ${speed}`);
  });

  it('scaling from 1 to 10 workers shows within 3 s, and back to 1 within 4 s', () => {
    const one = workersOf(1, 300);
    const nine = workersOf(9, 300, { startAt: 20_000, stopAt: 40_000 }).map((w, i) => ({ ...w, name: `worker-${i + 2}` }));
    const dashboards = simulate([...one, ...nine], 60_000);
    const at = (ms: number) => dashboards.find((d) => d.at === ms)!.speed!;
    assert.ok(at(19_500) < 3.5);
    assert.ok(at(23_000) > 0.75 * (100 / 3), `3 s after scaling up: ${at(23_000)}`);
    assert.ok(at(44_000) < 3.5, `4 s after scaling down: ${at(44_000)}`);
    assert.equal(dashboards.find((d) => d.at === 44_000)!.workers.length, 1);
  });

  it('workers getting faster (rng scaled) shows within 3 s', () => {
    const dashboards = simulate(workersOf(10, 0, { unitMs: (t) => (t < 20_000 ? 1000 : 300) }), 40_000);
    const at = (ms: number) => dashboards.find((d) => d.at === ms)!.speed!;
    assert.ok(Math.abs(at(19_500) - 10) < 0.5, `before: ${at(19_500)}`);
    assert.ok(at(23_000) > 25, `3 s after: ${at(23_000)}`);
  });
});

const stats = (calls: number, msEach: number): CallStats => ({ calls, totalMs: calls * msEach, maxMs: msEach * 1.2 });

/** `count` workers reporting each second for 5 s: units/s each, and per instance calls/s each with their latency. */
function steady(
  count: number,
  unitsPerSecond: number,
  rng: Record<string, [number, number]>,
  hasher: Record<string, [number, number]>,
  now = 10_000,
): SeenReport[] {
  const reports: SeenReport[] = [];
  for (let w = 1; w <= count; w++) {
    for (let s = 0; s < 5; s++) {
      const at = now - s * 1000;
      reports.push({
        seenAt: at,
        report: {
          worker: `worker-${w}`,
          at,
          intervalMs: 1000,
          units: unitsPerSecond,
          rng: Object.fromEntries(Object.entries(rng).map(([name, [calls, ms]]) => [name, stats(calls, ms)])),
          hasher: Object.fromEntries(Object.entries(hasher).map(([name, [calls, ms]]) => [name, stats(calls, ms)])),
        },
      });
    }
  }
  return reports;
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

const dashboardOf = (reports: SeenReport[], now = 10_000, error?: string) =>
  buildDashboard({ now, reports, hashes: 1234, coins: 5, recentCoins: ['0abc'], ...(error ? { error } : {}) });

describe('dashboard: who does the work and the bottleneck', () => {
  it('10 workers on one rng: names rng and the time each call waits in its queue', () => {
    // Each worker: 1 unit/s; its rng call takes 800 ms, of which the single rng serving
    // 10 calls/s spends 100 ms on it: 700 ms in the queue.
    const d = dashboardOf(steady(10, 1, { 'rng-1': [1, 800] }, { 'hasher-1': [1, 100] }));
    assert.equal(d.speed, 10);
    assert.equal(d.workers.length, 10);
    assert.deepEqual(d.workers[1], { name: 'worker-2', rate: 1 });
    assert.equal(d.workers.at(-1)!.name, 'worker-10', 'sorted by number, not as text');
    assert.deepEqual(d.rng.instances.map((i) => ({ ...i, rate: round(i.rate) })), [{ name: 'rng-1', rate: 10, meanMs: 800, maxMs: 960 }]);
    assert.equal(round(d.hasher.instances[0]!.rate), 10);
    assert.ok(Math.abs(d.rng.share - 0.8) < 1e-9);
    assert.equal(d.bottleneck, 'rng (1 instance) is saturated: each call waits 700 ms in its queue; add rng instances');
    assert.equal(d.hashes, 1234);
    assert.equal(d.coins, 5);
  });

  it('10 workers on 4 rng instances: no bottleneck', () => {
    // 3 units/s each: calls spread over the 4 instances, 130 ms each.
    const rng = { 'rng-1': [0.75, 130], 'rng-2': [0.75, 130], 'rng-3': [0.75, 130], 'rng-4': [0.75, 130] } as Record<string, [number, number]>;
    const d = dashboardOf(steady(10, 3, rng, { 'hasher-1': [3, 100] }));
    assert.equal(d.rng.instances.length, 4);
    assert.ok(Math.abs(d.rng.instances[0]!.rate - 7.5) < 1e-9);
    assert.equal(d.bottleneck, null);
  });

  it('a slow hasher is named as such', () => {
    const d = dashboardOf(steady(2, 1, { 'rng-1': [1, 100] }, { 'hasher-1': [1, 800] }));
    assert.equal(d.bottleneck, 'hasher (1 instance) is the bottleneck: each call takes 800 ms; add hasher instances');
  });

  it('entries of instances that are gone expire by themselves', () => {
    const reports = steady(3, 1, { 'rng-1': [1, 200] }, { 'hasher-1': [1, 100] }, 10_000);
    // worker-3 and rng-2 stopped at 10 s; the others go on.
    const later = steady(2, 1, { 'rng-1': [1, 200] }, { 'hasher-1': [1, 100] }, 14_000).filter((r) => r.seenAt > 10_000);
    const stale = [...reports, ...later];
    stale.push({ seenAt: 10_000, report: { ...stale[0]!.report, worker: 'worker-3', rng: { 'rng-2': stats(1, 200) } } });
    const atTen = dashboardOf(stale, 10_000);
    assert.deepEqual(atTen.workers.map((w) => w.name), ['worker-1', 'worker-2', 'worker-3']);
    assert.deepEqual(atTen.rng.instances.map((i) => i.name), ['rng-1', 'rng-2']);
    const atFourteen = dashboardOf(stale, 14_000);
    assert.deepEqual(atFourteen.workers.map((w) => w.name), ['worker-1', 'worker-2']);
    assert.deepEqual(atFourteen.rng.instances.map((i) => i.name), ['rng-1']);
    assert.equal(atFourteen.speed, 2);
  });

  it('no reports: speed 0 and an empty table; store unreadable: no speed and the error', () => {
    const empty = dashboardOf([]);
    assert.equal(empty.speed, 0);
    assert.deepEqual(empty.workers, []);
    assert.equal(empty.bottleneck, null);
    const down = dashboardOf(steady(1, 3, {}, {}), 10_000, 'Redis is unavailable: ECONNREFUSED');
    assert.equal(down.speed, null);
    assert.equal(down.error, 'Redis is unavailable: ECONNREFUSED');
  });
});
