// The worker against fake rng and hasher servers that answer wrongly (real worker process,
// real redis-server, the other upstream real): every wrong answer is a failure of that
// dependency, with one warning line naming what was wrong; nothing is counted, no coin stored.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { metricValue } from '../helpers/metrics.js';
import { startService, waitFor } from '../helpers/processes.js';
import { reportOf, testRedis } from '../helpers/redis.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const MiB = 1024 * 1024;
const octets = { 'content-type': 'application/octet-stream' };
const text = { 'content-type': 'text/plain;charset=utf-8' };
const html = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>\n';

/** What a wrong server sent before the worker hung up, to show that the answer was not read whole. */
const streamed = { sent: 0, finished: false };

/** 1 MiB in 64 KiB chunks, 10 ms apart, without a Content-Length. */
const streamMiB: Handler = (_request, response) => {
  response.writeHead(200, octets);
  streamed.sent = 0;
  streamed.finished = false;
  const timer = setInterval(() => {
    if (streamed.sent >= MiB) {
      streamed.finished = true;
      clearInterval(timer);
      return void response.end();
    }
    response.write(Buffer.alloc(64 * 1024, 7));
    streamed.sent += 64 * 1024;
  }, 10);
  response.on('close', () => clearInterval(timer));
};

const cases: { dependency: 'rng' | 'hasher'; answer: string; handler: Handler; expected: RegExp }[] = [
  { dependency: 'rng', answer: 'empty', handler: (_q, r) => r.writeHead(200, octets).end(), expected: /answered 0 bytes, not the 32 asked for/ },
  { dependency: 'rng', answer: '31 bytes', handler: (_q, r) => r.writeHead(200, octets).end(Buffer.alloc(31)), expected: /answered 31 bytes, not the 32 asked for/ },
  { dependency: 'rng', answer: '1 MiB with its length', handler: (_q, r) => r.writeHead(200, { ...octets, 'content-length': MiB }).end(Buffer.alloc(MiB)), expected: /answered 1048576 bytes, where 32 were expected/ },
  { dependency: 'rng', answer: '1 MiB streamed', handler: streamMiB, expected: /answered more than 32 bytes, where 32 were expected/ },
  { dependency: 'rng', answer: 'an HTML page', handler: (_q, r) => r.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html), expected: /answered text\/html; charset=utf-8, not application\/octet-stream/ },
  { dependency: 'rng', answer: '500', handler: (_q, r) => r.writeHead(500, text).end(`oops\n${'x'.repeat(10_000)}`), expected: /answered 500: oops$/ },
  { dependency: 'rng', answer: 'a hang', handler: () => {}, expected: /: timed out$/ },
  { dependency: 'rng', answer: 'a reset', handler: (q) => q.socket.resetAndDestroy(), expected: /: (ECONNRESET socket hang up|read ECONNRESET)$/ },
  { dependency: 'hasher', answer: 'not-a-hash', handler: (_q, r) => r.writeHead(200, text).end('not-a-hash'), expected: /answered 10 bytes that are not a sha256 hex digest: "not-a-hash"/ },
  // Starts with 0: counted as a coin before.
  { dependency: 'hasher', answer: 'an error page starting with 0', handler: (_q, r) => r.writeHead(200, text).end('0ops, I am an error page'), expected: /answered 24 bytes that are not a sha256 hex digest: "0ops, I am an error page"/ },
  { dependency: 'hasher', answer: 'empty', handler: (_q, r) => r.writeHead(200, text).end(), expected: /answered 0 bytes that are not a sha256 hex digest: ""/ },
  { dependency: 'hasher', answer: 'upper-case hex', handler: (_q, r) => r.writeHead(200, text).end('0'.repeat(32) + 'ABCDEF'.repeat(5) + 'AB'), expected: /answered 64 bytes that are not a sha256 hex digest/ },
  { dependency: 'hasher', answer: 'a digest and a newline', handler: (_q, r) => r.writeHead(200, text).end(`${'0'.repeat(64)}\n`), expected: /answered more than 64 bytes, where 64 were expected/ },
  { dependency: 'hasher', answer: 'an HTML page', handler: (_q, r) => r.writeHead(200, { 'content-type': 'text/html' }).end(html), expected: /answered more than 64 bytes, where 64 were expected/ },
  { dependency: 'hasher', answer: 'a short HTML page', handler: (_q, r) => r.writeHead(200, { 'content-type': 'text/html' }).end('<h1>502</h1>'), expected: /answered 12 bytes that are not a sha256 hex digest: "<h1>502<\/h1>"/ },
  { dependency: 'hasher', answer: 'a hang', handler: () => {}, expected: /: timed out$/ },
  { dependency: 'hasher', answer: 'a reset', handler: (q) => q.socket.resetAndDestroy(), expected: /: (ECONNRESET socket hang up|read ECONNRESET)$/ },
];

async function fakeServer(t: TestContext, handler: Handler): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve).closeAllConnections()));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

// The right answers, for the dependency that is not under test.
const rightAnswer: Record<'rng' | 'hasher', Handler> = {
  rng: (_q, r) => r.writeHead(200, octets).end(randomBytes(32)),
  hasher: (q, r) => {
    const hash = createHash('sha256');
    q.on('data', (chunk: Buffer) => hash.update(chunk)).on('end', () => r.writeHead(200, text).end(hash.digest('hex')));
  },
};

describe('worker: wrong answers from rng and hasher (fake servers, real worker process and redis-server)', () => {
  for (const { dependency, answer, handler, expected } of cases) {
    it(`${dependency} answering ${answer}: a ${dependency} failure, one line, nothing counted, no coin`, async (t) => {
      const redis = await testRedis(t);
      if (!redis) return;
      const fake = await fakeServer(t, handler);
      const other = await fakeServer(t, rightAnswer[dependency === 'rng' ? 'hasher' : 'rng']);
      const worker = await startService(t, 'worker', {
        WORK_DELAY_MS: '0',
        CALL_TIMEOUT_MS: '500',
        FLUSH_INTERVAL_MS: '100',
        REDIS_URL: redis.url,
        RNG_URL: dependency === 'rng' ? fake : other,
        HASHER_URL: dependency === 'hasher' ? fake : other,
        INSTANCE_NAME: 'worker-under-test',
      });
      const errors = await waitFor(`two ${dependency} failures`, async () => {
        const n = await metricValue(worker.url, 'worker_errors_total', { dependency });
        return n >= 2 ? n : undefined;
      });
      assert.equal(await metricValue(worker.url, 'worker_units_total'), 0, 'no unit counted');
      assert.equal(await metricValue(worker.url, 'worker_coins_total'), 0, 'no coin counted');
      // A flush (every 100 ms) from now on: then Redis holds what the worker has counted.
      const counted = Date.now();
      await waitFor('a flush', async () => {
        const report = await reportOf(redis.client, 'worker-under-test');
        return report && report.at > counted ? true : undefined;
      });
      assert.equal(Number(await redis.client.get('hashes')), 0, 'nothing counted in Redis');
      assert.equal(await redis.client.hLen('wallet'), 0, 'no coin stored');
      const warnings = worker.logs.filter((l) => l.level === 40 && l.dependency === dependency);
      assert.equal(warnings.length, 1, `one warning for the streak: ${JSON.stringify(worker.logs.filter((l) => l.level === 40))}`);
      const problem = warnings[0]!.msg.replace(/; retrying.*$/, '');
      assert.match(problem, new RegExp(`^${dependency} at http://127\\.0\\.0\\.1:\\d+/(32)?: `));
      assert.match(problem, expected);
      if (handler === streamMiB) {
        assert.ok(!streamed.finished && streamed.sent < MiB, `the worker hung up after ${streamed.sent} of ${MiB} bytes`);
        t.diagnostic(`the streamed answer: the worker hung up after ${streamed.sent} of ${MiB} bytes`);
      }
      t.diagnostic(`${errors} ${dependency} errors counted, 0 units, 0 coins; logged: ${warnings[0]!.msg}`);
    });
  }
});
