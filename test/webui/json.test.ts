import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCounters } from '../../src/cli/swarm.js';
import { parseConfig } from '../../src/lib/config.js';
import { STORE_DEADLINE_MS, memoryStore, redisStore } from '../../src/lib/store.js';
import { buildWebui, webuiEnv } from '../../src/webui/app.js';
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
    // By itself: the client reconnects within its backoff (at most 500 ms a try).
    await waitFor('recovery', async () => ((await app.inject('/json')).statusCode === 200 ? true : undefined), 5000);
  });
});
