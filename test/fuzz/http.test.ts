// Bad input: at least 10,000 random requests to each HTTP service (rng, hasher, webui, the
// worker's health port), made by fast-check from one seed (printed; FUZZ_SEED=<n> replays it):
// random methods, paths, headers and bodies up to several MB, malformed requests written on raw
// sockets, and slowloris connections held open meanwhile. No crash, no 5xx, no error log, no leak
// (memory kept after a full GC: test/helpers/inspector.ts), and every service still answers
// correctly afterwards.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import pLimit from 'p-limit';
import { Pool, type Dispatcher } from 'undici';
import { metricValue } from '../helpers/metrics.js';
import { inspectable, retainedMB } from '../helpers/inspector.js';
import { startService, type ServiceProcess } from '../helpers/processes.js';
import { testRedis } from '../helpers/redis.js';

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const CONCURRENCY = 16;
const SLOWLORIS = 20;
const MiB = 1024 * 1024;
const zero = { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0', WORK_DELAY_MS: '0' };

type Service = 'rng' | 'hasher' | 'webui' | 'worker';
const knownPaths: Record<Service, string[]> = {
  rng: ['/', '/32', '/0', '/007', '/1048576', '/1048577', '/99999999999999999999', '/-1', '/abc', '/32/'],
  hasher: ['/', '/abc'],
  webui: ['/', '/json', '/json/', '/json?x=1', '/index.html', '/app.js', '/events', '/../package.json', '/%2e%2e/%2e%2e/etc/passwd'],
  worker: ['/'],
};

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: { small: Uint8Array } | { size: number; byte: number } | null;
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,200}$/);

const requestFor = (service: Service): fc.Arbitrary<FuzzRequest> =>
  fc.record({
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') },
      { weight: 1, arbitrary: fc.constantFrom('TRACE', 'PROPFIND', 'get', 'Post', 'BREW') },
      { weight: 1, arbitrary: token.map((t) => t.toUpperCase()) },
    ),
    path: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...knownPaths[service], '/healthz', '/metrics', '/healthz/', '/metrics?x') },
      { weight: 2, arbitrary: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => `/${n}`) },
      { weight: 2, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `/${encodeURIComponent(s)}`) },
      { weight: 1, arbitrary: fc.nat(12_000).map((n) => `/${'a'.repeat(n)}`) },
      { weight: 1, arbitrary: fc.tuple(fc.webPath(), fc.webQueryParameters()).map(([p, q]) => `/${p.replace(/^\//, '')}?${q}`) },
    ),
    headers: fc.dictionary(
      fc.oneof(fc.constantFrom('content-type', 'accept', 'accept-encoding', 'if-none-match', 'if-modified-since', 'range', 'cookie', 'x-forwarded-for', 'origin', 'expect'), token.map((t) => t.toLowerCase())),
      fc.oneof(fc.constantFrom('application/json', 'application/octet-stream', 'text/plain', 'multipart/form-data; boundary=x', '*/*', 'gzip, br', 'bytes=0-10', '"abc"', 'W/"x"', '100-continue'), headerValue),
      { maxKeys: 6 },
    ).filter((h) => !('expect' in h)),
    body: fc.oneof(
      { weight: 100, arbitrary: fc.constant(null) },
      { weight: 80, arbitrary: fc.uint8Array({ maxLength: 256 }).map((small) => ({ small })) },
      // Bodies of several MB: about 50 per service, enough to catch one read without bound.
      { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 256, max: 4 * MiB }), byte: fc.nat(255) }) },
    ),
  });

/** Malformed or hostile requests that a client library would refuse to send: raw bytes. */
const rawRequest = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((b) => Buffer.from(b)),
  fc.constantFrom(
    'GET / HTTP/9.9\r\n\r\n',
    'GET  /  HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /\r\n\r\n',
    'GET / HTTP/1.1\r\nHost x\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n',
    'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /32 HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n',
  ).map((s) => Buffer.from(s, 'latin1')),
  fc.nat(40_000).map((n) => Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(n)}\r\n\r\n`)),
  fc.tuple(fc.constantFrom('GET', 'POST', 'HEAD'), fc.string({ unit: 'binary', maxLength: 100 })).map(([m, p]) =>
    Buffer.from(`${m} /${p} HTTP/1.1\r\nHost: x\r\n\r\n`, 'utf8'),
  ),
);

const rssMB = (proc: ServiceProcess) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.child.pid}/status`, 'utf8'))![1]) / 1024;

/** Writes raw bytes, half-closes, returns the status code of the first answer (null: closed without one). */
function sendRaw(port: number, bytes: Buffer): Promise<number | null> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
      resolve(status ? Number(status[1]) : null);
    };
    const timer = setTimeout(done, 5000);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1', 0, 64);
      if (/^HTTP\/1\.[01] \d{3}/.test(answer)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.end(bytes);
  });
}

/** Connections that send one header line a second and never finish their request. */
function slowloris(port: number, count: number) {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  for (let i = 0; i < count; i++) {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    socket.on('error', () => {});
    socket.on('close', () => (closedByServer += stopped ? 0 : 1));
    sockets.push(socket);
  }
  let stopped = false;
  const timer = setInterval(() => sockets.forEach((s, i) => s.writable && s.write(`X-Slow-${i}: ${'z'.repeat(10)}\r\n`)), 1000);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      sockets.forEach((s) => s.destroy());
      return closedByServer;
    },
  };
}

interface Outcome {
  statuses: Map<number, number>;
  serverErrors: string[];
  clientErrors: string[];
}

async function fuzz(t: TestContext, proc: ServiceProcess, service: Service, seed: number, total = REQUESTS): Promise<Outcome> {
  const requests = fc.sample(requestFor(service), { seed, numRuns: total - Math.floor(total / 10) });
  const raws = fc.sample(rawRequest, { seed: seed + 1, numRuns: Math.floor(total / 10) });
  const pool = new Pool(proc.url, { connections: CONCURRENCY, headersTimeout: 15_000, bodyTimeout: 15_000 });
  t.after(() => pool.destroy());
  const outcome: Outcome = { statuses: new Map(), serverErrors: [], clientErrors: [] };
  const count = (status: number, what: string) => {
    outcome.statuses.set(status, (outcome.statuses.get(status) ?? 0) + 1);
    if (status >= 500) outcome.serverErrors.push(`${status} for ${what}`);
  };
  const limit = pLimit(CONCURRENCY);
  await Promise.all([
    ...requests.map((r) =>
      limit(async () => {
        const body = r.body === null ? undefined : 'small' in r.body ? Buffer.from(r.body.small) : Buffer.alloc(r.body.size, r.body.byte);
        const what = `${r.method} ${r.path.slice(0, 80)} (${body?.length ?? 0} bytes, headers ${JSON.stringify(r.headers).slice(0, 200)})`;
        try {
          const res = await pool.request({ method: r.method as Dispatcher.HttpMethod, path: r.path, headers: r.headers, body });
          // The webui's event stream never ends: its status is the answer.
          if (String(res.headers['content-type']).startsWith('text/event-stream')) res.body.on('error', () => {}).destroy();
          else await res.body.dump({ limit: 8 * MiB });
          count(res.statusCode, what);
        } catch (err) {
          // A server may answer 413 and close while a body above its limit is still being sent.
          const code = (err as { code?: string }).code ?? String(err);
          if ((body?.length ?? 0) <= MiB) outcome.clientErrors.push(`${code} for ${what}`);
        }
      }),
    ),
    ...raws.map((bytes) =>
      limit(async () => {
        const status = await sendRaw(proc.port, bytes);
        if (status !== null) count(status, `raw ${JSON.stringify(bytes.toString('latin1', 0, 80))}`);
      }),
    ),
  ]);
  return outcome;
}

it(`fuzz: ${REQUESTS} random requests to each HTTP service; no crash, no 5xx, bounded memory, still correct`, { timeout: 170_000 }, async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} replays it)`);
  // warn: request lines would cost the test more than the services; errors still show.
  const quiet = { ...zero, LOG_LEVEL: 'warn' };
  const rng = await startService(t, 'rng', { ...quiet, ...inspectable });
  const hasher = await startService(t, 'hasher', { ...quiet, ...inspectable });
  const webui = await startService(t, 'webui', { ...quiet, ...inspectable, REDIS_URL: redis.url });
  // The worker at its workshop pace: its own work must not blur the memory figure of its port.
  const worker = await startService(t, 'worker', { ...inspectable, LOG_LEVEL: 'warn', RNG_URL: rng.url, HASHER_URL: hasher.url, REDIS_URL: redis.url, CALL_TIMEOUT_MS: '10000' });
  const services: [Service, ServiceProcess][] = [['rng', rng], ['hasher', hasher], ['webui', webui], ['worker', worker]];

  // Warm up (JIT, heap, first Redis answers) before the memory baseline: growth after it is a leak.
  await Promise.all(services.map(([name, proc], i) => fuzz(t, proc, name, seed - 1000 - i, 1000)));
  const rssBefore = services.map(([, p]) => rssMB(p));
  const retainedBefore = await Promise.all(services.map(([, p]) => retainedMB(p)));
  const held = services.map(([, p]) => slowloris(p.port, SLOWLORIS));

  const started = performance.now();
  const outcomes = await Promise.all(services.map(([name, proc], i) => fuzz(t, proc, name, seed + i * 7)));
  const seconds = (performance.now() - started) / 1000;
  const closedByServer = held.map((h) => h.stop());
  const retainedAfter = await Promise.all(services.map(([, p]) => retainedMB(p)));

  for (const [i, [name, proc]] of services.entries()) {
    const o = outcomes[i]!;
    const total = [...o.statuses.values()].reduce((a, b) => a + b, 0);
    const rssGrowth = rssMB(proc) - rssBefore[i]!;
    const retainedGrowth = retainedAfter[i]! - retainedBefore[i]!;
    t.diagnostic(
      `${name}: ${total} answers (${[...o.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}), ` +
        `RSS ${rssBefore[i]!.toFixed(0)} → ${rssMB(proc).toFixed(0)} MB, ` +
        `retained after a full GC ${retainedBefore[i]!.toFixed(1)} → ${retainedAfter[i]!.toFixed(1)} MB, ` +
        `${closedByServer[i]} of ${SLOWLORIS} slowloris connections closed by the server`,
    );
    assert.equal(proc.child.exitCode, null, `${name} is still running: ${proc.stderr.join('\n')}`);
    assert.deepEqual(o.serverErrors.slice(0, 5), [], `${name}: 5xx answers (${o.serverErrors.length})`);
    // A kept-alive connection may be reset between two requests; more than 1 in 1,000 is a fault.
    assert.ok(o.clientErrors.length <= REQUESTS / 1000, `${name}: ${o.clientErrors.length} requests got no answer: ${o.clientErrors.slice(0, 5).join('; ')}`);
    if (o.clientErrors.length > 0) t.diagnostic(`${name}: no answer to ${o.clientErrors.join('; ')}`);
    assert.ok(total >= REQUESTS * 0.9, `${name}: ${total} answers`);
    // A leak of 500 bytes a request would keep 5 MB; what is collected is no leak.
    assert.ok(retainedGrowth < 5, `${name}: ${retainedGrowth.toFixed(1)} MB more retained after a full GC (a leak)`);
    assert.ok(rssGrowth < 50, `${name}: RSS grew by ${rssGrowth.toFixed(1)} MB, after a full GC`);
    assert.deepEqual(proc.logs.filter((l) => l.level >= 50).slice(0, 3), [], `${name}: error log lines`);
  }
  t.diagnostic(`${services.length * REQUESTS} requests in ${seconds.toFixed(1)} s`);

  // Each service still does its job.
  const random = await fetch(`${rng.url}/32`);
  assert.equal(random.status, 200);
  assert.equal((await random.arrayBuffer()).byteLength, 32);
  const data = Buffer.from('still hashing');
  const digest = await fetch(`${hasher.url}/`, { method: 'POST', body: data });
  assert.equal(await digest.text(), createHash('sha256').update(data).digest('hex'));
  const json = (await (await fetch(`${webui.url}/json`)).json()) as { coins: unknown; hashes: unknown };
  assert.equal(typeof json.coins, 'number');
  assert.equal(typeof json.hashes, 'string');
  assert.equal(await (await fetch(`${worker.url}/healthz`)).text(), 'ok\n');
  const units = await metricValue(worker.url, 'worker_units_total');
  await delay(500);
  assert.ok((await metricValue(worker.url, 'worker_units_total')) > units, 'the worker still works');
});
