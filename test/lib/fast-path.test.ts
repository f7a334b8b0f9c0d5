// rng's GET /<n> and hasher's POST / are answered on bare node:http (src/lib/fast-path.ts) unless
// every request is logged (LOG_LEVEL=debug), when fastify answers them: both ways must be the same
// answer, byte for byte but the date and the random bytes, and counted alike in /metrics.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { request } from 'undici';
import { metricValue } from '../helpers/metrics.js';
import { hasherOn, rngOn } from '../helpers/services.js';
import { exchange } from '../helpers/sockets.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The raw answer's status line and headers, the date left out, and its body's length. */
async function rawAnswer(port: number, request: string) {
  const { answer } = await exchange(port, request, { giveUpMs: 5000 });
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  return { head: head.split('\r\n').filter((line) => !/^date:/i.test(line)), bodyLength: body.length };
}

type Start = (t: TestContext, env: Record<string, string>) => Promise<{ url: string }>;
const cases: [string, Start, string][] = [
  ['rng GET /32', rngOn, 'GET /32 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ['hasher POST /', hasherOn, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc'],
];

describe('the fast path', () => {
  for (const [name, start, raw] of cases) {
    it(`${name}: the same status line, headers and body length as fastify's answer`, async (t) => {
      const env = { INSTANCE_NAME: 'same', RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0' };
      const fast = await start(t, { ...env, LOG_LEVEL: 'warn' });
      const framework = await start(t, { ...env, LOG_LEVEL: 'debug' });
      const port = (url: string) => Number(new URL(url).port);
      const [fastAnswer, frameworkAnswer] = [await rawAnswer(port(fast.url), raw), await rawAnswer(port(framework.url), raw)];
      assert.deepEqual(fastAnswer, frameworkAnswer);
      assert.equal(fastAnswer.head[0], 'HTTP/1.1 200 OK');
    });
  }

  it('counts its answers in http_request_duration_seconds under the route fastify names', async (t) => {
    const rng = await rngOn(t, { RNG_DELAY_MS: '0' });
    const hasher = await hasherOn(t, { HASHER_DELAY_MS: '0' });
    for (let i = 0; i < 7; i++) {
      assert.equal((await (await request(`${rng.url}/32`)).body.arrayBuffer()).byteLength, 32);
      assert.equal(await (await request(hasher.url, { method: 'POST', body: `body ${i}` })).body.text(), sha256(`body ${i}`));
    }
    assert.equal(await metricValue(rng.url, 'http_request_duration_seconds_count', { method: 'GET', route: '/:n', status: '200' }), 7);
    assert.equal(await metricValue(hasher.url, 'http_request_duration_seconds_count', { method: 'POST', route: '/', status: '200' }), 7);
  });

  it('hasher: a chunked body is hashed too (by fastify), and a client that leaves mid-body costs nothing', async (t) => {
    const hasher = await hasherOn(t, { HASHER_DELAY_MS: '0' });
    const body = Buffer.alloc(200_000, 'x');
    const chunked = await request(hasher.url, {
      method: 'POST',
      body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
    });
    assert.equal(await chunked.body.text(), sha256(body));

    // Ten clients announce 100 bytes, send 10 and reset their connections.
    const { port } = new URL(hasher.url);
    await Promise.all(
      Array.from({ length: 10 }, () => new Promise<void>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789', () => {
            socket.resetAndDestroy();
            resolve();
          });
        });
      })),
    );
    const after = await request(hasher.url, { method: 'POST', body: 'still here' });
    assert.equal(await after.body.text(), sha256('still here'));
    assert.equal(await metricValue(hasher.url, 'http_request_duration_seconds_count', { method: 'POST', route: '/', status: '200' }), 2);
  });
});
