import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCounters } from '../../src/cli/swarm.js';
import { parseConfig } from '../../src/lib/config.js';
import { memoryStore } from '../../src/lib/memory-store.js';
import { STORE_DEADLINE_MS, redisStore } from '../../src/lib/store.js';
import { buildWebui, webuiEnv } from '../../src/webui/app.js';
import { Sampler } from '../../src/webui/sampler.js';
import { metricIn } from '../helpers/metrics.js';
import { waitFor } from '../helpers/processes.js';
import { testRedis } from '../helpers/redis.js';

const webuiFor = (url: string) =>
  buildWebui(parseConfig(webuiEnv, { LOG_LEVEL: 'silent', REDIS_URL: url }), redisStore({ url, onError: () => {} })).app;
/** Routing is the subject, not the data: the store in memory, so that these run without Redis. */
const webuiInMemory = () => buildWebui(parseConfig(webuiEnv, { LOG_LEVEL: 'silent' }), memoryStore()).app;

describe('webui routes (store in memory)', () => {
  it('GET / redirects to /index.html', async (t) => {
    const app = webuiInMemory();
    t.after(() => app.close());
    const res = await app.inject('/');
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/index.html');
  });

  it('POST /json and unknown paths are 404', async (t) => {
    const app = webuiInMemory();
    t.after(() => app.close());
    assert.equal((await app.inject({ method: 'POST', url: '/json' })).statusCode, 404);
    assert.equal((await app.inject('/nope')).statusCode, 404);
  });
});

describe('webui contract (real redis-server)', () => {
  it('/json: coins 0 and hashes null when the keys are missing, then the types of the contract', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const app = webuiFor(redis.url);
    t.after(() => app.close());
    const empty = await waitFor('redis connection', async () => {
      const res = await app.inject('/json');
      return res.statusCode === 200 ? res : undefined;
    });
    const body = empty.json();
    assert.deepEqual(Object.keys(body), ['coins', 'hashes', 'now']);
    assert.equal(body.coins, 0);
    assert.equal(body.hashes, null);
    assert.ok(Math.abs(body.now - Date.now() / 1000) < 5);
    assert.match(empty.headers['content-type'] as string, /^application\/json/);

    await redis.client.incrBy('hashes', 42);
    await redis.client.hSet('wallet', { ['0'.repeat(64)]: 'a', ['0a'.repeat(32)]: 'b' });
    for (const url of ['/json', '/json/', '/json?x=1']) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 200, url);
      const json = res.json();
      assert.equal(json.coins, 2);
      assert.equal(json.hashes, '42');
      assert.equal(typeof json.now, 'number');
    }
    assert.equal((await app.inject({ method: 'HEAD', url: '/json' })).statusCode, 200);
  });

  it('/json is 503 with a JSON error while Redis is down, and recovers by itself', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const app = webuiFor(redis.url);
    t.after(() => app.close());
    await waitFor('redis connection', async () => ((await app.inject('/json')).statusCode === 200 ? true : undefined));
    await redis.stop();
    const down = await app.inject('/json');
    assert.equal(down.statusCode, 503);
    assert.match(down.json().error, /^Redis is unavailable/);
    // What the labs' watches and the CLI report of such an answer: its reason, not only 503.
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    await assert.rejects(readCounters(address), /\/json answered 503: Redis is unavailable: \S/);
    // How long the 503 took by the web UI's own clock (its request histogram), not the busy
    // test's: bounded by the store's deadline, not a hang.
    const metrics = (await app.inject('/metrics')).body;
    const seconds = metricIn(metrics, 'http_request_duration_seconds_sum', { route: '/json', status: '503' });
    assert.ok(seconds < (2 * STORE_DEADLINE_MS) / 1000, `the 503 took ${seconds} s by the web UI's clock`);
    await redis.start();
    // By itself, without a restart of the web UI: the event is the first 200. How soon depends on
    // the machine's load, not on the web UI: the minute only keeps a broken client from hanging.
    await waitFor('recovery', async () => ((await app.inject('/json')).statusCode === 200 ? true : undefined), 60_000);
  });

  it('a key holding another type: /json 500 naming it, /readyz not ready, the page says which key', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const app = webuiFor(redis.url);
    t.after(() => app.close());
    const store = redisStore({ url: redis.url, onError: () => {} });
    t.after(() => store.close());
    const sampler = new Sampler({ store });
    await waitFor('redis connection', async () => ((await app.inject('/json')).statusCode === 200 ? true : undefined));
    const cases: [string, () => Promise<unknown>, string][] = [
      ['SET hashes foo', () => redis.client.set('hashes', 'foo'), 'Redis key hashes holds "foo", not an integer'],
      ['LPUSH hashes x', () => redis.client.lPush('hashes', 'x'), 'Redis key hashes holds a list, not an integer'],
      ['SET wallet foo', () => redis.client.set('wallet', 'foo'), 'Redis key wallet holds a string, not a hash'],
      ['SET recent coins', () => redis.client.set('dockercoins:recent-coins', '1'), 'Redis key dockercoins:recent-coins holds a string, not a list'],
      ['SET a report key', () => redis.client.set('dockercoins:worker:x', 'foo'), 'Redis key dockercoins:worker:x holds "foo", not a worker report'],
    ];
    for (const [what, write, reason] of cases) {
      await redis.client.flushAll();
      await write();
      // /json reads only the original's keys, /readyz those and the recent coins: the rest is the page's.
      const json = await app.inject('/json');
      const ours = reason.includes('dockercoins:');
      if (ours) assert.equal(json.statusCode, 200, what);
      else assert.deepEqual([json.statusCode, json.json()], [500, { error: reason }], what);
      const ready = await app.inject('/readyz');
      if (reason.includes(':worker:')) assert.equal(ready.statusCode, 200, what);
      else assert.deepEqual([ready.statusCode, ready.body], [503, `not ready: ${reason}\n`], what);
      const dashboard = await sampler.tick();
      assert.equal(dashboard.status.kind, 'bad-data', what);
      assert.equal(dashboard.status.text, `${reason}: something other than DockerCoins wrote it, and the figures cannot be read until it is fixed.`);
      assert.equal(dashboard.speed, null, `${what}: no speed told`);
      assert.equal(dashboard.redis.downSince, null, `${what}: Redis is not said to be down`);
    }
    await redis.client.flushAll();
    assert.equal((await app.inject('/readyz')).statusCode, 200, 'ready once the key is fixed');
    assert.equal((await sampler.tick()).status.kind, 'measuring');
  });
});
