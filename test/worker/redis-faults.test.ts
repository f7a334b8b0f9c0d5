// The worker and the web UI against a Redis that stalls (DEBUG SLEEP, SIGSTOP) or closes its port,
// and a SIGTERM in the middle: every store operation ends within its deadline, the fault is
// reported, both resume by themselves, and the final line accounts for every unit done.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { createClient } from '@redis/client';
import { STORE_DEADLINE_MS, WEBUI_STORE_DEADLINE_MS } from '../../src/lib/store.js';
import { metricValue } from '../helpers/metrics.js';
import { tcpProxy } from '../helpers/proxy.js';
import { startService, startUpstreams, waitFor, type LogLine, type ServiceProcess } from '../helpers/processes.js';
import { reportOf, testRedis, type TestRedis } from '../helpers/redis.js';

const fast = { RNG_DELAY_MS: '20', HASHER_DELAY_MS: '20', WORK_DELAY_MS: '20' };

async function startApp(t: TestContext, redis: TestRedis, redisUrl = redis.url) {
  const { workerEnv } = await startUpstreams(t, fast, redisUrl);
  const worker = await startService(t, 'worker', workerEnv);
  const webui = await startService(t, 'webui', { REDIS_URL: redis.url });
  await waitFor('a first flush', async () => ((await redis.client.get('hashes')) ? true : undefined));
  return { worker, webui };
}

/** The first log line after `from` that matches. */
const logLine = (proc: ServiceProcess, what: string, match: (l: LogLine) => boolean, from = 0) =>
  waitFor(`${proc.name}: ${what}`, () => proc.logs.slice(from).find(match), 15_000);
const redisWarning = (l: LogLine) => l.level === 40 && l.dependency === 'redis';
const redisBack = (l: LogLine) => l.dependency === 'redis' && /is back after/.test(l.msg);
const msSince = (line: LogLine, since: number) => Date.parse(line.time as string) - since;
const status = async (url: string) => (await fetch(url)).status;

/** A client of its own to stall the server with: DEBUG SLEEP holds the connection that sends it. */
async function stallFor(t: TestContext, redis: TestRedis, seconds: number): Promise<{ at: number; over: Promise<unknown> }> {
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  t.after(() => client.destroy());
  const at = Date.now();
  return { at, over: client.sendCommand(['DEBUG', 'SLEEP', String(seconds)]) };
}

/** SIGTERM, then the final line; checks that it accounts for every unit and is the last. */
async function stopWorker(worker: ServiceProcess) {
  const from = worker.logs.length;
  const closed = once(worker.child, 'close'); // all of its output read
  const { code } = await worker.stop('SIGTERM');
  await closed;
  const final = await logLine(worker, 'its final line', (l) => l.msg.startsWith('worker stopped'), from);
  assert.deepEqual(worker.logs.slice(worker.logs.indexOf(final) + 1), [], 'nothing is logged after the final line');
  const [units, saved, notSaved, unknown] = [final.units, final.saved, final.notSaved, final.unknown] as number[];
  assert.equal(units, saved! + notSaved! + unknown!, `done = saved + not saved + unknown: ${JSON.stringify(final)}`);
  assert.equal(code, notSaved! + unknown! > 0 ? 1 : 0, 'exit status says whether all was saved');
  assert.ok(!worker.logs.some((l) => /exiting anyway/.test(l.msg)), 'the worker stopped within its deadline');
  return { code, units: units!, saved: saved!, notSaved: notSaved!, unknown: unknown!, final };
}

describe('worker and web UI against a stalled or closed Redis (real processes)', () => {
  it('DEBUG SLEEP: worker warns within 2 s, /json and /readyz answer 503 within the deadline, both resume; a SIGTERM in a stall accounts for every unit', async (t) => {
    const redis = await testRedis(t, ['--enable-debug-command', 'local']);
    if (!redis) return;
    const { worker, webui } = await startApp(t, redis);
    for (const url of [worker.url, webui.url]) await waitFor(`${url} ready`, async () => ((await status(`${url}/readyz`)) === 200 ? true : undefined));

    // The web UI's questions below are asked within 2 s of the stall and each waits out the web
    // UI's deadline: the stall outlasts them with seconds to spare on a loaded machine.
    const stall = await stallFor(t, redis, Math.ceil((2000 + WEBUI_STORE_DEADLINE_MS) / 1000) + 4);
    // Asked at once, before anything noticed the stall: a 503 after the deadline (or a 200, if it
    // beat the DEBUG SLEEP to Redis).
    const firstJson = status(`${webui.url}/json`);
    const warning = await logLine(worker, 'a Redis warning', redisWarning);
    const warnMs = msSince(warning, stall.at);
    // The worker keeps the store's default deadline (the web UI waits longer).
    assert.match(warning.msg, new RegExp(`^redis: no answer within ${STORE_DEADLINE_MS} ms`));
    assert.ok((await metricValue(worker.url, 'worker_errors_total', { dependency: 'redis' })) >= 1, 'the error metric counts it');
    // Asked together, so that they all end before the stall does.
    const [firstStatus, json, workerReady, webuiReady] = await Promise.all([firstJson, ...[`${webui.url}/json`, `${worker.url}/readyz`, `${webui.url}/readyz`].map(status)]);
    assert.ok([200, 503].includes(firstStatus!));
    assert.deepEqual({ json, workerReady, webuiReady }, { json: 503, workerReady: 503, webuiReady: 503 });
    // By the web UI's own clock: how long its /json took to answer 503 (logs are batched: wait for the lines).
    await waitFor('the 503 lines', () => (webui.logs.filter((l) => l.url === '/json' && l.status === 503).length >= (firstStatus === 503 ? 2 : 1) ? true : undefined));
    const jsonMs = Math.max(...webui.logs.filter((l) => l.url === '/json' && l.status === 503).map((l) => l.ms as number));
    assert.ok(jsonMs < WEBUI_STORE_DEADLINE_MS + 1000, `/json answered 503 after ${jsonMs} ms`);
    t.diagnostic(`DEBUG SLEEP: worker warned ${warnMs} ms after the stall began (deadline ${STORE_DEADLINE_MS} ms); /json answered 503 in ${jsonMs} ms (webui's clock; deadline ${WEBUI_STORE_DEADLINE_MS} ms)`);

    await stall.over;
    await logLine(worker, 'Redis back', redisBack);
    await waitFor('/json 200 again', async () => ((await status(`${webui.url}/json`)) === 200 ? true : undefined));
    for (const url of [worker.url, webui.url]) await waitFor('ready again', async () => ((await status(`${url}/readyz`)) === 200 ? true : undefined));

    // A SIGTERM while Redis is stalled: the flush in flight has an unknown outcome, the rest is not saved.
    const second = await stallFor(t, redis, 3);
    await logLine(worker, 'a second Redis warning', redisWarning, worker.logs.indexOf(warning) + 1);
    const stopped = await stopWorker(worker);
    await second.over;
    const counted = Number(await redis.client.get('hashes'));
    assert.ok(counted >= stopped.saved && counted <= stopped.saved + stopped.unknown, `Redis counted ${counted}: ${JSON.stringify(stopped.final)}`);
    assert.ok(stopped.notSaved + stopped.unknown > 0, 'some units were done during the stall');
    t.diagnostic(`SIGTERM in a DEBUG SLEEP: ${stopped.units} done, ${stopped.saved} saved, ${stopped.notSaved} reported not saved, ${stopped.unknown} unknown; counter short by ${stopped.units - counted}`);
  });

  it('SIGSTOP: the worker warns, keeps working, and a SIGTERM during the pause accounts for every unit', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { worker, webui } = await startApp(t, redis);
    const pausedAt = Date.now();
    redis.pause();
    const warning = await logLine(worker, 'a Redis warning', redisWarning);
    assert.equal(await status(`${webui.url}/json`), 503);
    const stopped = await stopWorker(worker);
    redis.resume();
    // What was sent before the pause and not answered may be applied now: wait for Redis to settle.
    await waitFor('Redis answering', async () => ((await redis.client.ping()) === 'PONG' ? true : undefined));
    const counted = Number(await redis.client.get('hashes'));
    assert.ok(counted >= stopped.saved && counted <= stopped.saved + stopped.unknown, `Redis counted ${counted}: ${JSON.stringify(stopped.final)}`);
    t.diagnostic(`SIGSTOP: worker warned ${msSince(warning, pausedAt)} ms after the pause; SIGTERM: ${stopped.units} done, ${stopped.saved} saved, ${stopped.notSaved} not saved, ${stopped.unknown} unknown; counter short by ${stopped.units - counted}`);
  });

  it('closed Redis port: the SIGTERM stays within its deadline and the units not saved are exactly the counter\'s shortfall', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const proxy = await tcpProxy(t, redis.port);
    const { worker } = await startApp(t, redis, `redis://127.0.0.1:${proxy.port}`);
    // Closed right after a flush the worker saw confirmed, not while one is in flight: Redis has
    // the first flush before its answer reaches the worker, and a flush whose answer is lost is
    // rightly "unknown", which would make the counter's shortfall inexact by design.
    await logLine(worker, 'a confirmed flush', (l) => /units of work done, updating hash counter$/.test(l.msg), worker.logs.length);
    await proxy.close();
    await logLine(worker, 'a Redis warning', redisWarning);
    // Work done with nowhere to save it.
    const before = await metricValue(worker.url, 'worker_units_total');
    await waitFor('more units', async () => ((await metricValue(worker.url, 'worker_units_total')) > before ? true : undefined));
    const stopped = await stopWorker(worker);
    const counted = Number(await redis.client.get('hashes'));
    assert.equal(stopped.code, 1);
    assert.equal(counted, stopped.saved, 'the counter has exactly the units reported saved');
    assert.equal(stopped.units - counted, stopped.notSaved + stopped.unknown, 'the shortfall is what the final line reports');
    t.diagnostic(`closed port: ${stopped.units} done, ${stopped.saved} saved, ${stopped.notSaved} not saved, ${stopped.unknown} unknown; counter short by ${stopped.units - counted}`);
  });
});

describe('worker: repeated signals', () => {
  it('SIGTERM twice, SIGTERM then SIGINT, SIGINT three times: one final line each, exit 0, nothing lost', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { workerEnv } = await startUpstreams(t, fast, redis.url);
    const sequences: NodeJS.Signals[][] = [['SIGTERM', 'SIGTERM'], ['SIGTERM', 'SIGINT'], ['SIGINT', 'SIGINT', 'SIGINT']];
    const workers = await Promise.all(sequences.map((_, i) => startService(t, 'worker', { ...workerEnv, INSTANCE_NAME: `twice-${i + 1}` })));
    await waitFor('every worker counting', async () => {
      const values = await Promise.all(workers.map((w) => metricValue(w.url, 'worker_units_total')));
      return values.every((v) => v > 5) ? true : undefined;
    });
    const codes = await Promise.all(
      workers.map(async (worker, i) => {
        const exited = once(worker.child, 'exit');
        for (const signal of sequences[i]!) worker.child.kill(signal);
        return ((await exited) as [number | null])[0];
      }),
    );
    assert.deepEqual(codes, [0, 0, 0]);
    let total = 0;
    for (const [i, worker] of workers.entries()) {
      const finals = worker.logs.filter((l) => l.msg.startsWith('worker stopped'));
      assert.equal(finals.length, 1, `${worker.name}: one final line`);
      assert.equal(finals[0]!.notSaved, 0);
      assert.equal(finals[0]!.unknown, 0);
      total += finals[0]!.units as number;
      const report = await reportOf(redis.client, `twice-${i + 1}`);
      assert.equal(report?.final, true, `twice-${i + 1}'s last report says it stopped`);
    }
    // Two SIGTERMs may reach the process as one (the kernel merges a pending signal); two kinds do
    // not (though the kernel may deliver SIGINT first).
    assert.ok(workers[1]!.logs.some((l) => /^SIG(INT|TERM) received again; already shutting down$/.test(l.msg)), 'the second signal was noticed');
    assert.equal(Number(await redis.client.get('hashes')), total, 'the counter equals the units the workers report');
    t.diagnostic(`3 workers, repeated signals: ${total} units reported, all counted`);
  });
});

describe('worker: a Redis that refuses it', () => {
  it('a wrong password: the final line says how many units were not saved, none unknown, and is the last', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    // Set once the test's client is in: connections already made stay authenticated.
    await redis.client.configSet('requirepass', 'right');
    const { workerEnv } = await startUpstreams(t, fast, `redis://:wrong@127.0.0.1:${redis.port}`);
    const worker = await startService(t, 'worker', workerEnv);
    await logLine(worker, 'a Redis warning', redisWarning);
    await waitFor('some units', async () => ((await metricValue(worker.url, 'worker_units_total')) > 0 ? true : undefined));
    const stopped = await stopWorker(worker);
    assert.equal(stopped.unknown, 0, 'nothing was ever sent');
    assert.equal(stopped.notSaved, stopped.units);
    assert.equal(stopped.final.msg, `worker stopped; ${stopped.units} units were not saved (never sent to Redis, or refused by it)`);
    assert.ok(!JSON.stringify(worker.logs).includes('wrong'), 'the password is in no line');
  });

  for (const service of ['worker', 'webui'] as const) {
    it(`${service}: a database Redis does not have ends it at once with one line naming REDIS_URL, the password hidden`, async (t) => {
      const redis = await testRedis(t);
      if (!redis) return;
      await redis.client.configSet('requirepass', 'secret');
      const proc = await startService(t, service, { REDIS_URL: `redis://:secret@127.0.0.1:${redis.port}/99`, RNG_URL: 'http://127.0.0.1:1', HASHER_URL: 'http://127.0.0.1:1' }, { waitHealthy: false });
      const [code] = (await once(proc.child, 'exit')) as [number];
      assert.equal(code, 1);
      assert.deepEqual(proc.stderr, [`${service}: invalid REDIS_URL="redis://:***@127.0.0.1:${redis.port}/99": Redis has no database 99 (ERR DB index is out of range)`]);
    });
  }

  it('a path that is no database number: one line naming REDIS_URL at start, the password hidden', async (t) => {
    const proc = await startService(t, 'worker', { REDIS_URL: 'redis://user:secret@127.0.0.1:1/abc' }, { waitHealthy: false });
    const [code] = (await once(proc.child, 'exit')) as [number];
    assert.equal(code, 1);
    assert.deepEqual(proc.stderr, ['worker: invalid REDIS_URL="redis://user:***@127.0.0.1:1/abc": expected a redis:// URL: redis://[user:password@]host[:port][/database number]']);
  });
});
