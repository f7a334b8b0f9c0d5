import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { listen } from '../../src/lib/server.js';
import { parseConfig } from '../../src/lib/config.js';
import { buildRng, rngEnv } from '../../src/rng/app.js';
import { startService, waitFor, type LogLine } from '../helpers/processes.js';
import { exchange, parseAnswer } from '../helpers/sockets.js';
import { testRedis } from '../helpers/redis.js';

const pino = { debug: 20, info: 30 };
const accessLines = (logs: LogLine[]) => logs.filter((l) => l.msg === 'request');

describe('access log (real rng process, its stdout)', () => {
  it('at LOG_LEVEL=info: a refused request (4xx) gets a line, a served one none', async (t) => {
    const rng = await startService(t, 'rng', { RNG_DELAY_MS: '0', LOG_LEVEL: 'info' });
    await fetch(`${rng.url}/32`).then((r) => r.arrayBuffer());
    const refused = await fetch(`${rng.url}/nope`);
    assert.equal(refused.status, 404);
    // Lines arrive in order: once the 404's is in, a line for the earlier GET /32 would be too.
    await waitFor('the 404 line', () => accessLines(rng.logs).find((l) => l.status === 404));
    const lines = accessLines(rng.logs);
    assert.deepEqual(
      lines.map((l) => [l.level, l.method, l.url, l.status]),
      [[pino.info, 'GET', '/nope', 404]],
    );
  });

  it('at LOG_LEVEL=debug: one line per request, with method, url, status, time and client', async (t) => {
    const rng = await startService(t, 'rng', { RNG_DELAY_MS: '0', LOG_LEVEL: 'debug' });
    for (let i = 0; i < 3; i++) await fetch(`${rng.url}/32`).then((r) => r.arrayBuffer());
    await fetch(`${rng.url}/nope`).then((r) => r.text());
    const lines = await waitFor('4 access lines', () => {
      const found = accessLines(rng.logs).filter((l) => l.url === '/32' || l.url === '/nope');
      return found.length >= 4 ? found : undefined;
    });
    assert.deepEqual(
      lines.map((l) => [l.level, l.url, l.status]),
      [
        [pino.debug, '/32', 200],
        [pino.debug, '/32', 200],
        [pino.debug, '/32', 200],
        [pino.info, '/nope', 404],
      ],
    );
    for (const l of lines) {
      assert.equal(l.method, 'GET');
      assert.equal(typeof l.ms, 'number');
      assert.equal(l.remote, '127.0.0.1');
      assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });
});

describe('listen', () => {
  it('on ::, falls back to 0.0.0.0 where the kernel has no IPv6 (EAFNOSUPPORT)', async (t) => {
    const app = Fastify();
    t.after(() => app.close());
    // A kernel without IPv6 refuses the socket; this one is made to.
    const serverListen = app.server.listen.bind(app.server);
    app.server.listen = ((options: { host?: string }, ...rest: unknown[]) => {
      if (options.host === '::') {
        process.nextTick(() => app.server.emit('error', Object.assign(new Error('listen EAFNOSUPPORT ::'), { code: 'EAFNOSUPPORT' })));
        return app.server;
      }
      return (serverListen as (...args: unknown[]) => unknown)(options, ...rest);
    }) as typeof app.server.listen;
    const address = await listen(app, 0, '::');
    assert.equal((app.server.address() as { address: string }).address, '0.0.0.0');
    assert.equal((await fetch(`${address}/nope`)).status, 404);
  });

  it('does not fall back when HOST names an address', async (t) => {
    const app = Fastify();
    t.after(() => app.close());
    await assert.rejects(listen(app, 0, '192.0.2.1'), /EADDRNOTAVAIL/);
  });
});

describe('one error format: every 4xx and 5xx is one line of text', () => {
  it('503 while shutting down is one line of text (fastify answers JSON)', async () => {
    const { app } = buildRng(parseConfig(rngEnv, { LOG_LEVEL: 'silent', RNG_DELAY_MS: '0' }));
    await app.ready();
    const closing = app.close();
    const res = await app.inject('/healthz');
    await closing;
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.body, 'Service Unavailable: shutting down\n');
  });
});

describe('absolute-form request lines (GET http://x/path) are answered as their path, alike on every service', () => {
  const lines: Record<'rng' | 'hasher' | 'webui', string[]> = {
    rng: ['GET /healthz', 'GET /', 'GET /32', 'POST /32', 'POST /', 'GET /nope', 'GET /?x=1'],
    hasher: ['GET /healthz', 'GET /', 'POST /', 'POST /32', 'PUT /', 'GET /nope', 'GET /?x=1'],
    webui: ['GET /healthz', 'GET /', 'GET /json', 'POST /json', 'GET /nope', 'GET /?x=1'],
  };
  for (const service of ['rng', 'hasher', 'webui'] as const) {
    it(service, async (t) => {
      const proc = await startService(t, service, { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0', REDIS_URL: 'redis://127.0.0.1:1' });
      const ask = async (method: string, target: string) => {
        const request = `${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`;
        const { status, headers, body } = parseAnswer((await exchange(proc.port, request, { giveUpMs: 5000 })).answer);
        // rng's bytes differ from call to call, and so does /json's time: their length is compared.
        return { status, type: headers['content-type'], body: /octet-stream|json/.test(String(headers['content-type'])) ? body.length : body };
      };
      for (const line of lines[service]) {
        const [method, path] = line.split(' ') as [string, string];
        const origin = await ask(method, path);
        const absolute = await ask(method, `http://x${path}`);
        assert.ok(origin.status > 0, `${line}: answered`);
        assert.deepEqual(absolute, origin, `${method} http://x${path} is answered as ${line}`);
      }
      const noPath = await ask('GET', 'http://x');
      assert.deepEqual(noPath, await ask('GET', '/'), 'GET http://x is GET /');
    });
  }
});

describe('every service (real processes)', () => {
  it('names its version and revision in a log line once listening and in dockercoins_build_info, and answers GET / below 400', async (t) => {
    const env = { DOCKERCOINS_VERSION: '1.2.3', DOCKERCOINS_REVISION: 'abc1234', REDIS_URL: 'redis://127.0.0.1:1', RNG_URL: 'http://127.0.0.1:1', HASHER_URL: 'http://127.0.0.1:1' };
    for (const service of ['rng', 'hasher', 'worker', 'webui'] as const) {
      const proc = await startService(t, service, env);
      // Lines reach stdout in batches, at most 100 ms late.
      const first = await waitFor('the build line', () => proc.logs.find((l) => l.version !== undefined));
      assert.match(proc.logs[0]!.msg, /^listening on /, 'the build line follows the "listening" line: a failed start logs nothing');
      assert.equal(first.msg, `${service} 1.2.3, revision abc1234`);
      assert.deepEqual([first.version, first.revision], ['1.2.3', 'abc1234']);
      const metrics = await fetch(`${proc.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /^dockercoins_build_info\{version="1\.2\.3",revision="abc1234",service="\w+",instance="[^"]+"\} 1$/m, service);
      // The workshop's health check is `curl -f http://localhost/`: any answer below 400 passes.
      const root = await fetch(`${proc.url}/`, { redirect: 'manual' });
      await root.arrayBuffer();
      assert.ok(root.status < 400, `${service}: GET / answered ${root.status}`);
    }
  });

  // Swarm reports a task that exits 0 as Complete with no error, even one its failed health check
  // stopped: the exit code must say "stopped by a signal".
  it('rng, hasher and webui stop cleanly on SIGTERM with exit code 143 and on SIGINT with 130, as if the signal had ended them', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    for (const service of ['rng', 'hasher', 'webui'] as const) {
      const proc = await startService(t, service, { REDIS_URL: redis.url });
      assert.equal((await proc.stop('SIGTERM')).code, 143, `${service} after SIGTERM: ${proc.stderr.join('\n')}`);
      assert.ok(proc.logs.some((l) => l.msg === 'SIGTERM received, shutting down'), `${service} logged the signal`);
      assert.ok(!proc.logs.some((l) => l.level >= 50), `${service} logged no error: ${JSON.stringify(proc.logs.filter((l) => l.level >= 50))}`);
      await proc.restart();
      assert.equal((await proc.stop('SIGINT')).code, 130, `${service} after SIGINT`);
    }
  });
});
