// Requests Node refuses before fastify routes them get the one-line text answer of every other
// error (real processes, raw sockets). Slowloris: a request whose headers or body trickle in
// is cut at the documented limit: headers and body whole within REQUEST_TIMEOUT_MS. The upper
// bound is twice that: a loaded 2-core machine stretches the cut, and Node's default check
// every 30 s let such requests live 36-67 s.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REQUEST_TIMEOUT_MS } from '../../src/lib/refusals.js';
import { startService, waitFor } from '../helpers/processes.js';
import { exchange, parseAnswer } from '../helpers/sockets.js';

const headers = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${'slow'.repeat(20)}\r\n\r\n`;
// 100 KB at 5 KB a second: 20 s, twice the limit.
const body = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n${'b'.repeat(100_000)}`;

it(`slow clients are cut after ${REQUEST_TIMEOUT_MS / 1000} s with a one-line 408: headers at 1 byte/s, a body at 5 KB/s`, { timeout: 60_000 }, async (t) => {
  const away = { REDIS_URL: 'redis://127.0.0.1:1', RNG_URL: 'http://127.0.0.1:1', HASHER_URL: 'http://127.0.0.1:1' };
  const services = await Promise.all((['rng', 'hasher', 'webui', 'worker'] as const).map((name) => startService(t, name, away)));
  const hasher = services[1]!;
  const trickles = [
    ...services.map((s) => ({ service: s, what: 'headers at 1 byte/s', exchange: exchange(s.port, headers('/healthz'), { piece: 1, everyMs: 1000 }) })),
    { service: hasher, what: 'a 100 KB body at 5 KB/s', exchange: exchange(hasher.port, body, { piece: 5000, everyMs: 1000 }) },
  ];
  for (const trickle of trickles) {
    const { answer, closedAfterMs, written } = await trickle.exchange;
    const what = `${trickle.service.name}, ${trickle.what}`;
    t.diagnostic(`${what}: cut after ${(closedAfterMs / 1000).toFixed(1)} s, ${written} bytes written`);
    assert.ok(closedAfterMs >= REQUEST_TIMEOUT_MS - 2000 && closedAfterMs < 2 * REQUEST_TIMEOUT_MS, `${what}: cut after ${closedAfterMs} ms`);
    const { status, headers: answerHeaders, body: text } = parseAnswer(answer);
    assert.equal(status, 408, `${what}: ${answer}`);
    assert.equal(answerHeaders['content-type'], 'text/plain; charset=utf-8');
    assert.equal(text, `Request Timeout: the request did not arrive whole within ${REQUEST_TIMEOUT_MS / 1000} s\n`);
  }
  for (const service of services) {
    // Logged like every refusal (at info), once per connection cut.
    await waitFor(`${service.name}'s refusal line`, () => service.logs.find((l) => l.msg === 'request refused' && l.status === 408));
  }
});

describe('400, 431, 417: one line of text (fastify answers JSON, Node an empty body or none)', () => {
  const refused: [what: string, request: string, status: number, line: RegExp][] = [
    ['a malformed request line', 'GET / HTTP/9.9\r\n\r\n', 400, /^Bad Request: malformed HTTP request \(HPE_INVALID_VERSION\)\n$/],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost x\r\n\r\n', 400, /^Bad Request: malformed HTTP request \(HPE_INVALID_HEADER_TOKEN\)\n$/],
    ['Content-Length and chunked together', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, /^Bad Request: malformed HTTP request \(HPE_\w+\)\n$/],
    ['20 KB of headers', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431, /^Request Header Fields Too Large: headers larger than 16 KB\n$/],
    ['an unknown expectation', 'GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nConnection: close\r\n\r\n', 417, /^Expectation Failed: tea\n$/],
    // Node's own answer was an empty 400; GET /32 is rng's fast path, which leaves it to fastify.
    ['an HTTP/1.1 request without Host', 'GET /32 HTTP/1.1\r\nConnection: close\r\n\r\n', 400, /^Bad Request: an HTTP\/1\.1 request needs a Host header\n$/],
    // Node closed the connection without a word.
    ['a CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 400, /^Bad Request: CONNECT is a proxy's method; this is not a proxy\n$/],
  ];
  for (const service of ['rng', 'hasher', 'webui', 'worker'] as const) {
    it(`${service}: 400, 431 and 417 from Node's parser`, async (t) => {
      const proc = await startService(t, service, { REDIS_URL: 'redis://127.0.0.1:1' });
      for (const [what, request, status, line] of refused) {
        const answer = parseAnswer((await exchange(proc.port, request, { giveUpMs: 5000 })).answer);
        assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer)}`);
        assert.equal(answer.headers['content-type'], 'text/plain; charset=utf-8', what);
        assert.match(answer.body, line, what);
      }
    });
  }
});
