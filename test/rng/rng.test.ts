import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { MAX_BYTES } from '../../src/rng/app.js';
import { metricValue } from '../helpers/metrics.js';
import { waitFor } from '../helpers/processes.js';
import { rngApp, rngOn } from '../helpers/services.js';

const rng = (t: TestContext) => rngApp(t, { INSTANCE_NAME: 'rng-test', RNG_DELAY_MS: '5' }).app;

describe('rng contract', () => {
  it('GET / names the instance', async (t) => {
    const res = await rng(t).inject('/');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    assert.equal(res.body, 'RNG running on rng-test\n');
    assert.equal(res.headers['x-instance'], 'rng-test');
  });

  for (const [path, length] of [['/32', 32], ['/0', 0], ['/007', 7], ['/1024', 1024]] as const) {
    it(`GET ${path} returns ${length} random bytes`, async (t) => {
      const app = rng(t);
      const [a, b] = await Promise.all([app.inject(path), app.inject(path)]);
      assert.equal(a.statusCode, 200);
      assert.equal(a.headers['content-type'], 'application/octet-stream');
      assert.equal(a.rawPayload.length, length);
      if (length >= 32) assert.notDeepEqual(a.rawPayload, b.rawPayload);
    });
  }

  it('HEAD /32 answers 200 with Content-Length 32', async (t) => {
    const res = await rng(t).inject({ method: 'HEAD', url: '/32' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], '32');
    assert.equal(res.rawPayload.length, 0);
  });

  for (const path of ['/abc', '/-1', '/32/', '/1.5', '/32/x']) {
    it(`GET ${path} is 404 with a one-line reason`, async (t) => {
      const res = await rng(t).inject(path);
      assert.equal(res.statusCode, 404);
      assert.match(res.headers['content-type'] as string, /^text\/plain/);
      assert.match(res.body, /^Not Found: [^\n]+\n$/);
    });
  }

  for (const path of ['/99999999999999999999', `/${MAX_BYTES + 1}`, '/1' + '0'.repeat(60)]) {
    it(`GET ${path.slice(0, 24)} is refused with 400, nothing allocated`, async (t) => {
      const res = await rng(t).inject(path);
      assert.equal(res.statusCode, 400);
      assert.match(res.body, /^Bad Request: at most 1048576 bytes per request, asked for \d+\n$/);
    });
  }

  it('a very long path is 414 with a one-line reason', async (t) => {
    const res = await rng(t).inject('/1' + '0'.repeat(400));
    assert.equal(res.statusCode, 414);
    assert.match(res.body, /^[^\n]+\n$/);
  });

  it(`GET /${MAX_BYTES} is the largest answer`, async (t) => {
    const res = await rng(t).inject(`/${MAX_BYTES}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.rawPayload.length, MAX_BYTES);
  });

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
    it(`${method} /32 is 405 with Allow`, async (t) => {
      const res = await rng(t).inject({
        method,
        url: '/32',
        headers: { 'content-type': 'application/octet-stream' },
        payload: Buffer.alloc(10),
      });
      assert.equal(res.statusCode, 405);
      assert.equal(res.headers.allow, 'HEAD, OPTIONS, GET');
      assert.match(res.body, /^Method Not Allowed: [^\n]+\n$/);
    });
  }

  it('POST to an unknown path is 404', async (t) => {
    const res = await rng(t).inject({ method: 'POST', url: '/abc', payload: 'x' });
    assert.equal(res.statusCode, 404);
  });

  it('OPTIONS lists the allowed methods', async (t) => {
    const res = await rng(t).inject({ method: 'OPTIONS', url: '/32' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.allow, 'HEAD, OPTIONS, GET');
  });
});

describe('rng queue: one request at a time', () => {
  /** Waits until rng's own gauge counts `n` requests waiting for or holding the lock. */
  const queued = (url: string, n: number) =>
    waitFor(`rng_queue_depth ${n}`, async () => {
      const depth = await metricValue(url, 'rng_queue_depth');
      if (depth !== n) throw new Error(`rng_queue_depth is ${depth}`);
      return depth;
    });

  it('serves concurrent requests one after the other, GET / included; /healthz skips the queue', async (t) => {
    const DELAY = 500;
    const { url } = await rngOn(t, { RNG_DELAY_MS: String(DELAY) });
    const order: string[] = [];
    const timed = async (path: string, started: number) => {
      const res = await request(url + path, { reset: true });
      await res.body.arrayBuffer();
      order.push(path);
      return performance.now() - started;
    };
    const started = performance.now();
    const bytes = [timed('/32', started), timed('/32', started), timed('/32', started)];
    await queued(url, 3);
    const rootStarted = performance.now();
    const [root] = await Promise.all([timed('/', rootStarted), timed('/healthz', started)]);
    const done = await Promise.all(bytes);
    // Queued, /healthz would come after all three; skipping the queue, it comes before the
    // second (which ends at least one delay after the first, and the first was still queued).
    assert.ok(order.indexOf('/healthz') < 2, `answers in order ${order.join(', ')}`);
    // Lower bounds: a slow machine only makes them longer; serving at once breaks them.
    assert.ok(Math.max(...done) >= 3 * DELAY - 10, `three ${DELAY} ms requests took ${Math.max(...done)} ms in all`);
    assert.ok(root >= 3 * DELAY - 10, `GET /, queued behind three requests, answered after ${root} ms`);
  });

  it('skips queued requests whose client gave up, and reports the queue depth', async (t) => {
    const DELAY = 2000;
    const { url } = await rngOn(t, { RNG_DELAY_MS: String(DELAY) });
    const giveUp = new AbortController();
    const abandoned = Array.from({ length: 10 }, () =>
      request(`${url}/32`, { signal: giveUp.signal, reset: true }).catch((err: Error) => err.name),
    );
    // One in progress and nine waiting, as counted by rng (the delay outlasts their arrival).
    await queued(url, 10);
    giveUp.abort();
    assert.deepEqual(new Set(await Promise.all(abandoned)), new Set(['AbortError']));
    // Nine abandoned requests are skipped: by rng's own clock, a new one waits in the queue for
    // at most the one in progress (1 delay); served in turn, the nine would cost 9 more.
    const res = await request(`${url}/32`);
    assert.equal((await res.body.arrayBuffer()).byteLength, 32);
    const waits = await metricValue(url, 'rng_queue_wait_seconds_count');
    const withinFiveDelays = await metricValue(url, 'rng_queue_wait_seconds_bucket', { le: String((5 * DELAY) / 1000) });
    assert.equal(waits, 11, 'the ten abandoned requests and the new one each had their turn');
    assert.equal(withinFiveDelays, waits, 'by rng\'s clock, no request waited 5 delays or more');
  });
});
