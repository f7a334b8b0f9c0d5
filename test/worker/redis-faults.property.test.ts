// Redis faults at every step of a flush, in generated sequences (fast-check, seeded: the seed is
// printed, FAULT_SEED=<n> replays it): for any command the worker sends (CLIENT SETINFO on each
// connection, EVAL for each flush) an error reply or the connection dropped before or after its
// reply, or held for less or more than the store's deadline; a key of the wrong type; Redis
// restarted empty, out of memory, a read-only replica. A worker runs in this process against a
// real redis-server behind a fault-injecting proxy; after it stops, Redis must hold every unit
// at most once, all that the worker reports saved, nothing beyond saved + unknown, and no coin
// of an uncounted unit; its lines name no script hash, and its final line is its last.
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { Registry } from 'prom-client';
import { KEYS, redisStore, type Store } from '../../src/lib/store.js';
import { Upstream } from '../../src/worker/upstream.js';
import { Worker, type WorkerSummary } from '../../src/worker/worker.js';
import { withinBudget } from '../helpers/budget.js';
import { faultProxy, type ConnectionFault, type FaultProxy } from '../helpers/fault-proxy.js';
import type { LogLine } from '../helpers/processes.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';
import { hasherOn, rngOn } from '../helpers/services.js';

const RUNS = Number(process.env.FAULT_RUNS ?? 30);
/** About a minute on 2 cores, whatever the machine's load: runs end early past it (their count is printed). */
const TIME_LIMIT_MS = 60_000;
/** The store's deadline in these runs: a stall is generated past it. */
const DEADLINE_MS = 200;
const WORKER = 'faulty';

const wrongTypes = {
  'hashes not an integer': { key: KEYS.hashes, command: ['SET', KEYS.hashes, 'foo'] },
  'hashes a list': { key: KEYS.hashes, command: ['LPUSH', KEYS.hashes, 'x'] },
  'wallet a string': { key: KEYS.wallet, command: ['SET', KEYS.wallet, 'foo'] },
  'recent coins a hash': { key: KEYS.recentCoins, command: ['HSET', KEYS.recentCoins, 'a', 'b'] },
  'report a hash': { key: KEYS.workerPrefix + WORKER, command: ['HSET', KEYS.workerPrefix + WORKER, 'a', 'b'] },
  "writer's seq a list": { key: 'seq', command: ['LPUSH', 'seq', 'x'] },
};

const faultArb = fc.oneof(
  fc.record({
    kind: fc.constant('connection' as const),
    fault: fc.constantFrom<ConnectionFault>('drop-before-request', 'drop-after-request', 'drop-after-reply', 'stall'),
    skip: fc.nat(3),
    // Below the store's deadline, a slow answer; above it, a stall.
    stallMs: fc.integer({ min: 50, max: 3 * DEADLINE_MS }),
  }),
  fc.record({ kind: fc.constant('error reply' as const), command: fc.constantFrom('eval', 'client') }),
  fc.record({ kind: fc.constant('wrong type' as const), which: fc.constantFrom(...(Object.keys(wrongTypes) as (keyof typeof wrongTypes)[])) }),
  fc.constantFrom({ kind: 'restarted empty' as const }, { kind: 'out of memory' as const }, { kind: 'read-only replica' as const }),
);
type Fault = typeof faultArb extends fc.Arbitrary<infer F> ? F : never;
const stepArb = fc.record({ fault: faultArb, holdMs: fc.integer({ min: 0, max: 400 }), pauseMs: fc.integer({ min: 0, max: 200 }) });
// The stop's own deadline, below and above the store's: a flush may still be in flight after it.
const runArb = fc.record({ steps: fc.array(stepArb, { minLength: 1, maxLength: 4 }), stopDuringLast: fc.boolean(), stopMs: fc.integer({ min: 50, max: 700 }) });
type Run = typeof runArb extends fc.Arbitrary<infer R> ? R : never;
/** Run first whatever the seed: a refused flush sent again, answered slowly after the stop's deadline. */
const heldPastStop: Run = {
  steps: [
    { fault: { kind: 'error reply', command: 'eval' }, holdMs: 100, pauseMs: 0 },
    { fault: { kind: 'connection', fault: 'stall', skip: 0, stallMs: DEADLINE_MS - 20 }, holdMs: 60, pauseMs: 0 },
  ],
  stopDuringLast: true,
  stopMs: 50,
};

/** The store the worker uses, noting what it was asked to save (its coins, by flush). */
function recording(store: Store) {
  const coins = new Map<string, { seq: number; units: number }>();
  let writer: string | undefined;
  const recorded: Store = {
    ...store,
    recordWork(units, found, report, flush, sent) {
      writer = flush.writer;
      for (const coin of found) coins.set(coin.hex, { seq: flush.seq, units });
      return store.recordWork(units, found, report, flush, sent);
    },
  };
  return { store: recorded, coins, seqKey: () => (writer ? KEYS.flushPrefix + writer : undefined) };
}

// The key set aside while it holds the wrong type, and put back after.
const SET_ASIDE = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2]) end
redis.call(unpack(ARGV))`;
const PUT_BACK = `redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[1]) end`;

interface Lab {
  redis: TestRedis;
  proxy: FaultProxy;
  /** Units of the counter lost to restarts. */
  lost: number;
  seqKey: () => string | undefined;
}

/** Starts `fault`; returns what ends it. */
async function begin(lab: Lab, fault: Fault, holdMs: number): Promise<() => Promise<void>> {
  const { redis, proxy } = lab;
  const send = (...args: string[]) => redis.client.sendCommand(args);
  switch (fault.kind) {
    case 'connection': {
      const done = proxy.arm(fault.fault, fault);
      return async () => {
        await Promise.race([done, delay(holdMs + 300)]);
        proxy.disarm();
      };
    }
    case 'error reply':
      await send('ACL', 'SETUSER', 'default', `-${fault.command}`);
      return async () => void (await send('ACL', 'SETUSER', 'default', `+${fault.command}`));
    case 'wrong type': {
      const { key: named, command } = wrongTypes[fault.which];
      const key = named === 'seq' ? lab.seqKey() : named;
      if (!key) return async () => {};
      const args = command.map((a) => (a === 'seq' ? key : a));
      await redis.client.eval(SET_ASIDE, { keys: [key, `aside:${key}`], arguments: args });
      return async () => void (await redis.client.eval(PUT_BACK, { keys: [key, `aside:${key}`] }));
    }
    case 'restarted empty':
      // Cut off first, so that the count read is all the restart loses.
      proxy.down();
      lab.lost += Number(await redis.client.get(KEYS.hashes));
      await redis.stop();
      await redis.start();
      await ready(redis);
      proxy.up();
      return async () => {};
    case 'out of memory':
      await redis.client.configSet('maxmemory', '1');
      return async () => void (await redis.client.configSet('maxmemory', '0'));
    case 'read-only replica':
      // A master that refuses: the replica keeps its data and refuses writes.
      await send('REPLICAOF', '127.0.0.1', '1');
      return async () => void (await send('REPLICAOF', 'NO', 'ONE'));
  }
}

/** The test's client back on a restarted Redis (it reconnects every 100 ms). */
async function ready(redis: TestRedis): Promise<void> {
  for (let i = 0; i < 100 && !(await redis.client.ping().catch(() => undefined)); i++) await delay(50);
}

/** One generated run: a worker through the faults, stopped, then Redis checked against its final line. */
async function run(lab: Lab, upstreams: { rng: string; hasher: string }, { steps, stopDuringLast, stopMs }: Run) {
  await lab.redis.client.flushAll();
  lab.lost = 0;
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const recorder = recording(redisStore({ url: `redis://127.0.0.1:${lab.proxy.port}`, deadlineMs: DEADLINE_MS, onError: () => {} }));
  lab.seqKey = recorder.seqKey;
  const upstream = (name: string, urls: string) => new Upstream({ name, urls, connections: 'balanced', timeoutMs: 2000, log });
  const worker = new Worker({
    name: WORKER,
    rng: upstream('rng', upstreams.rng),
    hasher: upstream('hasher', upstreams.hasher),
    store: recorder.store,
    log: log as unknown as FastifyBaseLogger,
    metrics: new Registry(),
    workDelayMs: 2,
    flushEveryMs: 50,
    maxBackoffMs: 100,
  });
  worker.start();
  await delay(100);
  let summary: WorkerSummary | undefined;
  for (const [i, { fault, holdMs, pauseMs }] of steps.entries()) {
    const end = await begin(lab, fault, holdMs);
    await delay(holdMs);
    if (stopDuringLast && i === steps.length - 1) summary = await worker.stop(stopMs);
    await end();
    await delay(pauseMs);
  }
  summary ??= await worker.stop(stopMs);
  // Past the deadline of a flush still in flight; then nothing more can reach Redis.
  await delay(2 * DEADLINE_MS);
  lab.proxy.down();
  await recorder.store.close();
  await delay(50);
  lab.proxy.up();
  await check(lab, summary, recorder.coins, lines);
}

async function check(lab: Lab, summary: WorkerSummary, coins: Map<string, { seq: number; units: number }>, lines: LogLine[]) {
  const { units, saved, notSaved, unknown } = summary;
  const said = JSON.stringify({ ...summary, lost: lab.lost });
  const counted = Number(await lab.redis.client.get(KEYS.hashes));
  assert.equal(units, saved + notSaved + unknown, `done = saved + not saved + unknown: ${said}`);
  assert.ok(counted <= units, `Redis counts ${counted}, more units than were done: ${said}`);
  assert.ok(counted <= saved + unknown, `Redis counts ${counted}, more than saved + unknown: ${said}`);
  assert.ok(saved <= counted + lab.lost, `units reported saved are missing from Redis (${counted}): ${said}`);
  // Each coin's flush is counted whole: the units of the flushes whose coins are stored are in the counter.
  const flushes = new Map<number, number>();
  for (const hex of await lab.redis.client.hKeys(KEYS.wallet)) {
    const flush = coins.get(hex);
    assert.ok(flush, `coin ${hex} was never found by the worker`);
    flushes.set(flush.seq, flush.units);
  }
  const coinUnits = [...flushes.values()].reduce((a, b) => a + b, 0);
  assert.ok(coinUnits <= counted, `coins of ${coinUnits} units stored, the counter has ${counted}: ${said}`);
  const scriptNamed = lines.find((l) => /script: [0-9a-f]{40}/.test(l.msg));
  assert.equal(scriptNamed, undefined, 'a refused flush names the key, not the script');
  assert.match(lines.at(-1)?.msg ?? '', /^worker stopped/, `the final line is the last: ${JSON.stringify(lines.slice(-2))}`);
}

it('Redis faults at every step of a flush: each unit in Redis at most once, all that is saved in it, no more than saved + unknown', async (t: TestContext) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const proxy = await faultProxy(t, redis.port);
  const zero = { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0' };
  const upstreams = { rng: (await rngOn(t, zero)).url, hasher: (await hasherOn(t, zero)).url };
  const lab: Lab = { redis, proxy, lost: 0, seqKey: () => undefined };
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed} (FAULT_SEED=${seed} replays these runs)`);
  const healthy = async () => {
    await redis.client.sendCommand(['ACL', 'SETUSER', 'default', '+@all']);
    await redis.client.configSet('maxmemory', '0');
    await redis.client.sendCommand(['REPLICAOF', 'NO', 'ONE']);
  };
  const budgeted = withinBudget(TIME_LIMIT_MS, async (generated: Run) => {
    try {
      await run(lab, upstreams, generated);
    } finally {
      await healthy();
    }
  });
  await fc.assert(fc.asyncProperty(runArb, budgeted.run), { seed, numRuns: RUNS, endOnFailure: true, examples: [[heldPastStop]] });
  const runs = budgeted.runs();
  t.diagnostic(`${runs} generated runs of ${RUNS}`);
  assert.ok(runs >= Math.min(5, RUNS), `only ${runs} runs within ${TIME_LIMIT_MS} ms`);
});
