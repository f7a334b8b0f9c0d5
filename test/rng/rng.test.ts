import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { parseConfig } from '../../src/lib/config.js';
import { buildRng, MAX_BYTES, rngEnv } from '../../src/rng/app.js';
import { rngOn } from '../helpers/services.js';

const rng = () => buildRng(parseConfig(rngEnv, { LOG_LEVEL: 'silent', INSTANCE_NAME: 'rng-test', RNG_DELAY_MS: '5' })).app;

describe('rng contract', () => {
  it('GET / names the instance', async () => {
    const res = await rng().inject('/');
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    assert.equal(res.body, 'RNG running on rng-test\n');
    assert.equal(res.headers['x-instance'], 'rng-test');
  });

  for (const [path, length] of [['/32', 32], ['/0', 0], ['/007', 7], ['/1024', 1024]] as const) {
    it(`GET ${path} returns ${length} random bytes`, async () => {
      const app = rng();
      const [a, b] = await Promise.all([app.inject(path), app.inject(path)]);
      assert.equal(a.statusCode, 200);
      assert.equal(a.headers['content-type'], 'application/octet-stream');
      assert.equal(a.rawPayload.length, length);
      if (length >= 32) assert.notDeepEqual(a.rawPayload, b.rawPayload);
    });
  }

  it('HEAD /32 answers 200 with Content-Length 32', async () => {
    const res = await rng().inject({ method: 'HEAD', url: '/32' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], '32');
    assert.equal(res.rawPayload.length, 0);
  });

  for (const path of ['/abc', '/-1', '/32/', '/1.5', '/32/x']) {
    it(`GET ${path} is 404 with a one-line reason`, async () => {
      const res = await rng().inject(path);
      assert.equal(res.statusCode, 404);
      assert.match(res.headers['content-type'] as string, /^text\/plain/);
      assert.match(res.body, /^Not Found: [^\n]+\n$/);
    });
  }

  for (const path of ['/99999999999999999999', `/${MAX_BYTES + 1}`, '/1' + '0'.repeat(60)]) {
    it(`GET ${path.slice(0, 24)} is refused with 400, nothing allocated`, async () => {
      const res = await rng().inject(path);
      assert.equal(res.statusCode, 400);
      assert.match(res.body, /^Bad Request: at most 1048576 bytes per request, asked for \d+\n$/);
    });
  }

  it('a very long path is 414 with a one-line reason', async () => {
    const res = await rng().inject('/1' + '0'.repeat(400));
    assert.equal(res.statusCode, 414);
    assert.match(res.body, /^[^\n]+\n$/);
  });

  it(`GET /${MAX_BYTES} is the largest answer`, async () => {
    const res = await rng().inject(`/${MAX_BYTES}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.rawPayload.length, MAX_BYTES);
  });

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH'] as const) {
    it(`${method} /32 is 405 with Allow`, async () => {
      const res = await rng().inject({
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

  it('POST to an unknown path is 404', async () => {
    const res = await rng().inject({ method: 'POST', url: '/abc', payload: 'x' });
    assert.equal(res.statusCode, 404);
  });

  it('OPTIONS lists the allowed methods', async () => {
    const res = await rng().inject({ method: 'OPTIONS', url: '/32' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers.allow, 'HEAD, OPTIONS, GET');
  });
});

describe('rng queue: one request at a time', () => {
  it('serves concurrent requests one after the other, GET / included; /healthz skips the queue', async (t) => {
    const { url } = await rngOn(t, { RNG_DELAY_MS: '100' });
    const started = performance.now();
    const timed = async (path: string) => {
      const res = await request(url + path, { reset: true });
      await res.body.arrayBuffer();
      return performance.now() - started;
    };
    const bytes = [timed('/32'), timed('/32'), timed('/32')];
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [root, health] = await Promise.all([timed('/'), timed('/healthz')]);
    const done = await Promise.all(bytes);
    // Queued, /healthz would come after all three; skipping the queue, it beats the second.
    const secondAnswer = [...done].sort((a, b) => a - b)[1]!;
    assert.ok(health < secondAnswer, `healthz answered at ${health} ms, after the second queued request (${secondAnswer} ms)`);
    assert.ok(Math.max(...done) >= 290, `three 100 ms requests took ${Math.max(...done)} ms in all`);
    assert.ok(root >= 390, `GET / queued behind three requests answered after ${root} ms`);
  });

  it('skips queued requests whose client gave up, and reports the queue depth', async (t) => {
    const { url } = await rngOn(t, { RNG_DELAY_MS: '200' });
    const abandoned = Array.from({ length: 10 }, () =>
      request(`${url}/32`, { signal: AbortSignal.timeout(100), reset: true }).catch((err: Error) => err.name),
    );
    const metricsDuring = await (await request(`${url}/metrics`)).body.text();
    assert.match(metricsDuring, /^rng_queue_depth\{[^}]*\} 10$/m);
    assert.deepEqual(new Set(await Promise.all(abandoned)), new Set(['TimeoutError']));
    // Nine abandoned requests are skipped: a new one waits for at most the one in progress.
    const started = performance.now();
    const res = await request(`${url}/32`);
    assert.equal((await res.body.arrayBuffer()).byteLength, 32);
    const waited = performance.now() - started;
    assert.ok(waited < 550, `a request after 10 abandoned ones waited ${waited} ms`);
  });
});
