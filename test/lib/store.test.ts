// The stores against FlushId's rule (both of them, Redis for real), and the Redis store before
// its connection is up, and when its own process is starved past the deadline.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { memoryStore } from '../../src/lib/memory-store.js';
import { KEYS, mayHaveBeenApplied, redisStore, type Coin, type RedisStoreOptions, type Store, type WorkerReport } from '../../src/lib/store.js';
import { waitUntil } from '../../src/lib/wait.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';

const report: WorkerReport = { worker: 'early', at: 0, intervalMs: 1000, units: 3, rng: {}, hasher: {} };

/** A store on the test's Redis, closed after the test. */
function storeOn(t: TestContext, redis: TestRedis, options: Omit<RedisStoreOptions, 'url'> = {}) {
  const store = redisStore({ url: redis.url, ...options });
  t.after(() => store.close());
  return store;
}

const coin: Coin = { hex: '0abc', bytes: Buffer.from('random bytes') };

/** What a reader of the store sees. */
const contents = async (store: Store) => ({ totals: await store.readTotals(), recent: await store.readRecentCoins(), reports: (await store.readReports()).length });

describe("FlushId's rule on both stores", () => {
  const stores: [string, (t: TestContext) => Promise<Store | undefined>][] = [
    ['memory', async () => memoryStore()],
    ['Redis', async (t) => ((redis) => redis && storeOn(t, redis))(await testRedis(t))],
  ];
  for (const [name, open] of stores) {
    it(`${name}: the same flush sent twice is applied once; a later one is applied, an earlier one not`, async (t) => {
      const store = await open(t);
      if (!store) return;
      const flush = { writer: 'twice', seq: 1 };
      await store.recordWork(3, [coin], report, flush);
      await store.recordWork(3, [coin], report, flush);
      assert.deepEqual(await contents(store), { totals: { coins: 1, hashes: '3' }, recent: ['0abc'], reports: 1 });
      await store.recordWork(2, [], report, { writer: 'twice', seq: 2 });
      await store.recordWork(5, [], report, { writer: 'twice', seq: 1 });
      await store.recordWork(4, [], report, { writer: 'another', seq: 1 });
      assert.deepEqual((await store.readTotals()).hashes, '9');
    });
  }

  // Redis does not undo the writes of a script when one of its commands fails.
  const wrongTypes: [string, string[], RegExp][] = [
    [KEYS.wallet, ['SET', KEYS.wallet, 'foo'], /^WRONGTYPE key wallet holds a string, not a hash$/],
    [KEYS.recentCoins, ['HSET', KEYS.recentCoins, 'a', 'b'], /^WRONGTYPE key dockercoins:recent-coins holds a hash, not a list$/],
    [KEYS.hashes, ['SET', KEYS.hashes, 'foo'], /^WRONGTYPE key hashes holds a string that is not an integer$/],
    [KEYS.hashes, ['LPUSH', KEYS.hashes, 'x'], /^WRONGTYPE key hashes holds a list, not a string$/],
    [`${KEYS.flushPrefix}failing`, ['LPUSH', `${KEYS.flushPrefix}failing`, 'x'], /^WRONGTYPE key dockercoins:flush:failing holds a list, not a string$/],
  ];
  for (const [key, command, message] of wrongTypes) {
    it(`Redis: a flush refused for ${command.join(' ')} changes nothing, names the key, and is applied once when sent again`, async (t) => {
      const redis = await testRedis(t);
      if (!redis) return;
      const store = storeOn(t, redis);
      await store.recordWork(1, [], report, { writer: 'failing', seq: 1 });
      // The counter is set aside while its key holds the wrong type, and put back after.
      if (key === KEYS.hashes) await redis.client.rename(KEYS.hashes, 'aside');
      else await redis.client.del(key);
      await redis.client.sendCommand(command);
      const dump = async () => Object.fromEntries(await Promise.all((await redis.client.keys('*')).sort().map(async (k) => [k, await redis.client.sendCommand(['DUMP', k])])));
      const state = await dump();
      for (let i = 0; i < 2; i++) {
        await assert.rejects(store.recordWork(5, [coin], report, { writer: 'failing', seq: 2 }), (err: Error) => {
          assert.match(err.message, message);
          assert.equal(mayHaveBeenApplied(err), false, 'a refusal is known to have changed nothing');
          return true;
        });
      }
      assert.deepEqual(await dump(), state, 'nothing changed');
      await redis.client.del(key);
      if (key === KEYS.hashes) await redis.client.rename('aside', KEYS.hashes);
      await store.recordWork(5, [coin], report, { writer: 'failing', seq: 2 });
      await store.recordWork(5, [coin], report, { writer: 'failing', seq: 2 });
      assert.equal(await redis.client.get(KEYS.hashes), '6');
      assert.equal(await redis.client.hLen(KEYS.wallet), 1);
    });
  }
});

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

describe('Redis store closed before its first connection', () => {
  it('an operation still waiting for the connection ends at close, not at its deadline (a web UI stopped while its Redis is unreachable)', { timeout: 60_000 }, async () => {
    // Nothing listens on port 1; the deadline outlasts the test's timeout (which only bounds a hang, were the fix lost), so only close() can end the wait.
    const store = redisStore({ url: 'redis://127.0.0.1:1', deadlineMs: 600_000, onError: () => {} });
    const waiting = store.ping().then(
      () => assert.fail('ping succeeded with no Redis'),
      (e: unknown) => e as Error,
    );
    await store.close();
    const err = await waiting;
    assert.equal(err.message, 'the store is closed');
    assert.equal(mayHaveBeenApplied(err), false, 'not sent');
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
