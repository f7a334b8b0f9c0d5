// The Redis store against a real redis-server: what it does before its connection is up, and
// when its own process is starved past the deadline.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { mayHaveBeenApplied, redisStore, type RedisStoreOptions, type WorkerReport } from '../../src/lib/store.js';
import { waitUntil } from '../../src/lib/wait.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';

const report: WorkerReport = { worker: 'early', at: 0, intervalMs: 1000, units: 3, rng: {}, hasher: {} };

/** A store on the test's Redis, closed after the test. */
function storeOn(t: TestContext, redis: TestRedis, options: Omit<RedisStoreOptions, 'url'> = {}) {
  const store = redisStore({ url: redis.url, ...options });
  t.after(() => store.close());
  return store;
}

describe('Redis store before its first connection', () => {
  it('an operation asked for at once waits for the connection instead of failing as offline', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const errors: Error[] = [];
    const store = storeOn(t, redis, { onError: (err) => errors.push(err) });
    // Asked for in the same tick as the store is made: no connection can be up yet.
    await store.recordWork(3, [], report, { writer: 'early-writer', seq: 1 });
    await store.ping();
    assert.equal(await redis.client.get('hashes'), '3');
    assert.deepEqual(errors, []);
  });

  it('with Redis down, fails within its deadline as not sent, naming the cause, and is not applied once Redis is up', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    await redis.stop();
    const store = storeOn(t, redis, { deadlineMs: 300 });
    const err = await store.recordWork(3, [], report, { writer: 'refused', seq: 1 }).then(
      () => assert.fail('recordWork succeeded with Redis down'),
      (e: unknown) => e as Error,
    );
    assert.equal(mayHaveBeenApplied(err), false, `${err.name}: ${err.message}`);
    assert.match(err.message, /^not connected within 300 ms \(.*ECONNREFUSED.*\)$/);

    await redis.start();
    await waitUntil('the store to connect', () => store.ping().then(() => true), { timeoutMs: 10_000, everyMs: 100 });
    await waitUntil('the test client to reconnect', () => redis.client.ping(), { timeoutMs: 10_000, everyMs: 100 });
    assert.equal(await redis.client.get('hashes'), null, 'the refused write was not sent once the connection came up');
  });
});

describe('Redis store in a starved process', () => {
  it('an answer already waiting on the socket when the deadline passes is taken, not called a timeout', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const store = storeOn(t, redis, { deadlineMs: 200 });
    await store.ping();
    await redis.client.set('hashes', '42');
    const reading = store.readTotals();
    // Let the client write the commands (it does in a setImmediate of its own, queued before this
    // one), then hold the event loop past the deadline as a starved process would: Redis answers
    // meanwhile. (Held right away, the commands would only leave after the hold.)
    await new Promise((resolve) => setImmediate(resolve));
    // Held long past the deadline: Redis, another process, has 1.5 s to answer on a busy host.
    const heldUntil = performance.now() + 1500;
    while (performance.now() < heldUntil);
    assert.deepEqual(await reading, { coins: 0, hashes: '42' });
  });

  it("one operation's timeout does not fail the others still in flight on its connection", async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const store = storeOn(t, redis, { deadlineMs: 2000 });
    await store.ping();
    redis.pause();
    t.after(() => redis.resume());
    const first = store.readTotals();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = store.readTotals();
    // The first one's deadline passes while Redis is stalled; the second has about 200 ms of it
    // behind it, so Redis has most of 2 s to answer once resumed, even on a busy host.
    await assert.rejects(first, /no answer within 2000 ms/);
    redis.resume();
    assert.deepEqual(await second, { coins: 0, hashes: null });
    await store.ping();
  });
});
