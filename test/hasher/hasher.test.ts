import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { metricValue } from '../helpers/metrics.js';
import { hasherApp, hasherOn } from '../helpers/services.js';

const hasher = (t: TestContext) => hasherApp(t, { INSTANCE_NAME: 'hasher-test', HASHER_DELAY_MS: '5' }).app;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('hasher contract', () => {
  it('GET / names the instance', async (t) => {
    const res = await hasher(t).inject('/');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'HASHER running on hasher-test\n');
  });

  it('HEAD / is 200', async (t) => {
    assert.equal((await hasher(t).inject({ method: 'HEAD', url: '/' })).statusCode, 200);
  });

  for (const contentType of ['application/octet-stream', 'text/plain', 'application/json', 'image/png', undefined]) {
    it(`POST / hashes the raw body whatever the Content-Type (${contentType ?? 'none'})`, async (t) => {
      const body = randomBytes(32);
      const res = await hasher(t).inject({
        method: 'POST',
        url: '/',
        headers: contentType ? { 'content-type': contentType } : {},
        payload: body,
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'text/plain;charset=utf-8');
      assert.equal(res.body, sha256(body));
      assert.match(res.body, /^[0-9a-f]{64}$/);
    });
  }

  it('POST / with an empty body is the sha256 of nothing', async (t) => {
    const res = await hasher(t).inject({ method: 'POST', url: '/' });
    assert.equal(res.body, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('a body over the limit is 413 with a one-line reason; at the limit it is hashed', async (t) => {
    const app = hasher(t);
    const over = await app.inject({ method: 'POST', url: '/', payload: Buffer.alloc(1024 * 1024 + 1) });
    assert.equal(over.statusCode, 413);
    assert.match(over.body, /^[^\n]+\n$/);
    const at = Buffer.alloc(1024 * 1024, 7);
    const ok = await app.inject({ method: 'POST', url: '/', payload: at });
    assert.equal(ok.body, sha256(at));
  });

  for (const [method, url] of [['GET', '/abc'], ['POST', '/abc'], ['PUT', '/'], ['DELETE', '/'], ['PATCH', '/x']] as const) {
    it(`${method} ${url} is 404 with a one-line body`, async (t) => {
      const res = await hasher(t).inject({ method, url, headers: { 'content-type': 'application/octet-stream' }, payload: 'x' });
      assert.equal(res.statusCode, 404);
      assert.match(res.body, /^Not Found: [^\n]+\n$/);
    });
  }
});

describe('hasher over HTTP', () => {
  it('answers concurrent requests concurrently, and a huge streamed body with 413', async (t) => {
    const DELAY = 500;
    const { url } = await hasherOn(t, { HASHER_DELAY_MS: String(DELAY) });
    const bodies = Array.from({ length: 20 }, () => randomBytes(32));
    const hashes = await Promise.all(
      bodies.map(async (body) => (await request(url, { method: 'POST', body })).body.text()),
    );
    assert.deepEqual(hashes, bodies.map((b) => sha256(b)));
    // By the service's own clock (its latency histogram): one at a time, a request would wait
    // for those before it, 10.5 delays on average; concurrently, about one.
    const posts = { method: 'POST', route: '/', status: '200' };
    const count = await metricValue(url, 'http_request_duration_seconds_count', posts);
    const meanMs = ((await metricValue(url, 'http_request_duration_seconds_sum', posts)) / count) * 1000;
    assert.equal(count, 20);
    assert.ok(meanMs >= DELAY && meanMs < 5 * DELAY, `20 concurrent ${DELAY} ms requests: ${meanMs.toFixed(0)} ms each on average (${(meanMs / DELAY).toFixed(1)} delays)`);

    const huge = await request(url, { method: 'POST', body: Buffer.alloc(8 * 1024 * 1024) }).then(
      async (res) => ({ status: res.statusCode, text: await res.body.text() }),
      (err: Error) => ({ status: 0, text: err.message }),
    );
    // The server may answer 413 before it has read the whole upload, and close: either way no 200.
    assert.ok(huge.status === 413 || huge.status === 0, `8 MiB body: ${huge.status} ${huge.text}`);
    const after = await request(url, { method: 'POST', body: 'abc' });
    assert.equal(await after.body.text(), sha256('abc'));
  });
});
