// The page's generator (issue 33): fast-check timelines of workers joining, leaving (with or
// without a last report) and sharing names, an original worker that only increments the
// counter, the counter reset (Redis back empty, or set lower) or added to by others. Each is
// played against a real redis-server through the real store (its flush script and report
// keys), the real Sampler ticking on its injected clock: 40 s of the sampler's time in well
// under a second of the test's. Invariants on every dashboard:
// - the speed shown never exceeds what the counter gained over some window of 3 to 10 s ending
//   then (net of any decrease within), beyond the page's rounding;
// - a counter lower than at the sample before is said, from that sample on (and none is said
//   before the first);
// - once nothing has joined, left or written the counter for 11 s, every running worker process
//   is counted once (names shared or not), and with no worker but ours nothing is put down to
//   workers that do not report.
// PAGE_SEED=<n> replays a run; the seed is printed first.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { KEYS, REPORT_TTL_SECONDS, redisStore, type WorkerReport } from '../../src/lib/store.js';
import { LONG_WINDOW_MS, SHORT_WINDOW_MS, type Dashboard } from '../../src/webui/dashboard.js';
import { Sampler } from '../../src/webui/sampler.js';
import { withinBudget } from '../helpers/budget.js';
import { waitFor } from '../helpers/processes.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';

const TICK_MS = 500;
const FLUSH_MS = 1000;
const TIMELINE_MS = 40_000;
/** What the page rounds the speed to, and the one tenth either side. */
const ROUNDING = 0.05;
/** Time after the last join, leave or write of the counter before every worker must be counted. */
const SETTLE_MS = LONG_WINDOW_MS + 1000;
const RUNS = Number(process.env.PAGE_RUNS ?? 200);
const TIME_LIMIT_MS = 60_000;

interface WorkerPlan {
  name: string;
  unitMs: number;
  startAt: number;
  stopAt: number;
  phase: number;
  /** Stops with a last report (SIGTERM), or without (killed). */
  lastReport: boolean;
}
type CounterEvent = { at: number; kind: 'redis-empty' | 'set-lower' | 'others-add'; amount: number };
interface Timeline {
  workers: WorkerPlan[];
  /** Units an original worker (counter only) adds each second; 0: none. */
  original: number;
  counter: CounterEvent[];
  /** Ticks the sampler misses (a late sample). */
  late: number[];
}

const tick = (max = TIMELINE_MS) => fc.integer({ min: 0, max: max / TICK_MS }).map((i) => i * TICK_MS);
const workerPlan = fc
  .record({ name: fc.integer({ min: 1, max: 2 }), unitMs: fc.integer({ min: 150, max: 1000 }), startAt: tick(30_000), runs: tick(), phase: fc.integer({ min: 1, max: 999 }), lastReport: fc.boolean() })
  .map(({ name, runs, ...w }) => ({ ...w, name: `worker-${name}`, stopAt: Math.min(w.startAt + Math.max(runs, 2000), TIMELINE_MS + 1) }));
const timeline: fc.Arbitrary<Timeline> = fc.record({
  workers: fc.array(workerPlan, { minLength: 1, maxLength: 5 }),
  original: fc.constantFrom(0, 0, 1, 3),
  counter: fc.array(fc.record({ at: tick(), kind: fc.constantFrom('redis-empty', 'set-lower', 'others-add'), amount: fc.integer({ min: 1, max: 99 }) }), { maxLength: 3 }),
  late: fc.array(tick(), { maxLength: 3 }),
});

/** Something that happens to Redis at `at`: a worker's flush, the original's, or a counter event. */
type Write = { at: number; apply: (redis: TestRedis) => Promise<unknown> };

function writesOf(plan: Timeline, store: ReturnType<typeof redisStore>): Write[] {
  const writes: Write[] = [];
  for (const [index, w] of plan.workers.entries()) {
    const writer = `process-${index}`;
    let seq = 0;
    let last = w.startAt;
    let unitEnd = w.startAt + w.unitMs;
    const flush = (at: number, final: boolean) => {
      let units = 0;
      for (; unitEnd <= at; unitEnd += w.unitMs) units += 1;
      const report: WorkerReport = { worker: w.name, process: writer, at, intervalMs: at - last, units, rng: {}, hasher: {}, ...(final ? { final } : {}) };
      const flushId = { writer, seq: ++seq };
      writes.push({ at, apply: () => store.recordWork(units, [], report, flushId) });
      last = at;
    };
    for (let at = w.startAt + w.phase; at < w.stopAt; at += FLUSH_MS) flush(at, false);
    if (w.stopAt <= TIMELINE_MS && w.lastReport) flush(w.stopAt, true);
    // Redis's TTL runs on the test's clock: the sampler's runs much faster, so expire it on that one.
    writes.push({ at: last + REPORT_TTL_SECONDS * 1000, apply: (r) => r.client.del(KEYS.workerPrefix + writer) });
  }
  for (let at = 700; plan.original > 0 && at <= TIMELINE_MS; at += FLUSH_MS) writes.push({ at, apply: (r) => r.client.incrBy('hashes', plan.original) });
  for (const event of plan.counter) {
    const apply = {
      'redis-empty': (r: TestRedis) => r.client.flushAll(),
      'set-lower': async (r: TestRedis) => r.client.set('hashes', Math.floor((Number(await r.client.get('hashes')) * event.amount) / 100)),
      'others-add': (r: TestRedis) => r.client.incrBy('hashes', event.amount),
    }[event.kind];
    writes.push({ at: event.at, apply });
  }
  // Stable: at one instant, the workers' flushes, then the original's, then the events.
  return writes.sort((a, b) => a.at - b.at);
}

/** When the page must count every worker: nothing joined, left or wrote the counter in the last SETTLE_MS. */
function settled(plan: Timeline, now: number): boolean {
  const changes = [...plan.workers.flatMap((w) => [w.startAt, w.stopAt]), ...plan.counter.map((e) => e.at)];
  return now >= SETTLE_MS && changes.every((at) => at > now || at <= now - SETTLE_MS);
}

/** What the runs checked, for the diagnostic line. */
const checked = { dashboards: 0, speeds: 0, settled: 0, resets: 0, shared: 0 };

/** Plays one timeline; throws on the first dashboard that breaks an invariant. */
async function play(plan: Timeline, redis: TestRedis, store: ReturnType<typeof redisStore>): Promise<void> {
  await redis.client.flushAll();
  let now = 0;
  const sampler = new Sampler({ store, now: () => now });
  const writes = writesOf(plan, store);
  /** The counter at each tick, as the test left it (the sampler reads the same). */
  const counter: { at: number; hashes: number }[] = [];
  let previousSampled: number | undefined;
  let resetAt: number | undefined;
  for (now = 0; now <= TIMELINE_MS; now += TICK_MS) {
    while (writes.length > 0 && writes[0]!.at <= now) await writes.shift()!.apply(redis);
    const hashes = Number((await redis.client.get('hashes')) ?? 0);
    counter.push({ at: now, hashes });
    if (plan.late.includes(now)) continue;
    const d = await sampler.tick();
    // A read past the store's deadline (a starved test process) shows the last figures marked stale: not this sample's.
    if (d.redis.downSince !== null) continue;
    const where = `at ${now} ms: ${JSON.stringify({ speed: d.speed, unreported: d.unreported, workers: d.workers, counterReset: d.counterReset, hashes })}`;
    checked.dashboards += 1;
    if (previousSampled !== undefined && hashes < previousSampled) {
      resetAt = now;
      checked.resets += 1;
    }
    previousSampled = hashes;
    if (resetAt === undefined) assert.equal(d.counterReset, null, `a reset said before any, ${where}`);
    else assert.ok(d.counterReset !== null && d.counterReset.at >= resetAt, `the reset at ${resetAt} ms not said, ${where}`);
    if (d.speed !== null) checked.speeds += 1;
    if (d.speed !== null) assert.ok(d.speed <= supported(counter, now) + ROUNDING, `speed above the counter's ${supported(counter, now).toFixed(2)}/s, ${where}`);
    if (settled(plan, now)) checkCounted(plan, d, now, where);
  }
}

/** The most the counter gained per second (net: a decrease within counts) over a window of 3 to 10 s ending now, missed samples or not. */
function supported(counter: readonly { at: number; hashes: number }[], now: number): number {
  const last = counter.at(-1)!;
  let best = -Infinity;
  for (let i = counter.length - 2; i >= 0 && now - counter[i]!.at <= LONG_WINDOW_MS; i--) {
    if (now - counter[i]!.at >= SHORT_WINDOW_MS) best = Math.max(best, ((last.hashes - counter[i]!.hashes) * 1000) / (now - counter[i]!.at));
  }
  return best;
}

function checkCounted(plan: Timeline, d: Dashboard, now: number, where: string): void {
  if (d.speed === null) return;
  checked.settled += 1;
  const running = plan.workers.filter((w) => w.startAt + w.phase <= now && w.stopAt > now);
  assert.equal(d.workers.count, running.length, `${running.length} running workers, ${where}`);
  const names = new Set(running.map((w) => w.name));
  if (names.size < running.length) checked.shared += 1;
  assert.equal(d.workers.shared !== null, names.size < running.length, `a shared name said iff there is one, ${where}`);
  const othersWrote = plan.original > 0 || plan.counter.some((e) => e.kind === 'others-add' && e.at > now - SETTLE_MS && e.at <= now);
  if (!othersWrote) assert.ok(d.unreported! <= 0.5, `no worker but ours, yet ${d.unreported}/s from workers that do not report, ${where}`);
}

it('the page, over generated timelines: never above the counter, a reset said, each worker counted once', async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  // The deadline is the test's own time: a loaded machine must not make a sample fail.
  const store = redisStore({ url: redis.url, deadlineMs: 10_000, onError: () => {} });
  t.after(() => store.close());
  await waitFor('store connected', async () => ((await store.readTotals().catch(() => undefined)) ? true : undefined));
  const seed = Number(process.env.PAGE_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed} (PAGE_SEED=${seed} replays it)`);
  const started = performance.now();
  const budgeted = withinBudget(TIME_LIMIT_MS, (plan: Timeline) => play(plan, redis, store));
  const result = await fc.check(fc.asyncProperty(timeline, budgeted.run), { seed, numRuns: RUNS, endOnFailure: true });
  t.diagnostic(
    `${budgeted.runs()} timelines in ${((performance.now() - started) / 1000).toFixed(1)} s: ${checked.dashboards} dashboards, ${checked.speeds} with a speed, ` +
      `${checked.resets} resets, ${checked.settled} settled (${checked.shared} with a shared name)`,
  );
  if (result.failed) {
    const why = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    assert.fail(`seed ${seed} (PAGE_SEED=${seed}), run ${result.numRuns}: ${why}\n${fc.defaultReportMessage(result)}`);
  }
  assert.ok(budgeted.runs() >= 10, `only ${budgeted.runs()} timelines ran within ${TIME_LIMIT_MS / 1000} s`);
});
