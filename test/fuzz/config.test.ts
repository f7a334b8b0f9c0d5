// Configuration: every variable each service reads (its schema's keys, and the build's two),
// given generated odd values by fast-check from one seed (printed; FUZZ_SEED=<n> replays it):
// empty, Unicode, control characters, huge, negative, malformed URLs with paths and credentials.
// Invariant, on the real bundles: the service starts and serves (/healthz and a real request,
// then a clean exit on SIGTERM), or exits 1 with one line on stderr naming the variable and
// nothing on stdout; never a crash later.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { hasherEnv } from '../../src/hasher/app.js';
import { distDir } from '../../src/lib/paths.js';
import { freePort } from '../../src/lib/redis-server.js';
import { rngEnv } from '../../src/rng/app.js';
import { webuiEnv } from '../../src/webui/app.js';
import { workerEnv } from '../../src/worker/app.js';
import { withinBudget } from '../helpers/budget.js';
import { testRedis } from '../helpers/redis.js';
import { socketInodes, TCP_STATE } from '../helpers/sockets.js';

type Name = 'rng' | 'hasher' | 'worker' | 'webui';
/** Read by every service beside its schema: the image's version and revision (src/lib/server.ts). */
const BUILD = ['DOCKERCOINS_VERSION', 'DOCKERCOINS_REVISION'];
const variables: Record<Name, string[]> = {
  rng: [...Object.keys(rngEnv), ...BUILD],
  hasher: [...Object.keys(hasherEnv), ...BUILD],
  worker: [...Object.keys(workerEnv), ...BUILD],
  webui: [...Object.keys(webuiEnv), ...BUILD],
};
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 40_000);

const url = fc
  .tuple(
    fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', 'redis://', '//', ''),
    fc.constantFrom('', 'user@', 'user:secret@', ':@', '日本@'),
    fc.constantFrom('127.0.0.1:1', '[::1]:1', '[::1', 'rng', 'h:99999', '', '日本.example', 'a b'),
    fc.constantFrom('', '/', '/a/b', '/%zz', '/日本', '/../..'),
    fc.constantFrom('', '?q=1', '#f', '?'),
  )
  .map((parts) => parts.join(''));
/** Odd values; env strings cannot hold NUL. */
const odd = fc
  .oneof(
    fc.constantFrom('', ' ', '0', '-1', '1.5', '1e3', '0x10', '007', '99999999999999999999', '2147483648', 'NaN', 'info', 'DEBUG', 'silent'),
    fc.constantFrom('balanced', 'per-call', 'keep-alive', '日本語', '🙂', 'a\nb', 'x\u0001y', 'été', ' 100', '100 ', '\t', '/', '.', '::', '0.0.0.0', 'localhost'),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.integer({ min: -1e12, max: 1e12 }).map(String),
    fc.nat(20_000).map((n) => 'x'.repeat(n)),
    url,
    fc.array(url, { minLength: 2, maxLength: 3 }).map((urls) => urls.join(',')),
  )
  .map((v) => v.replace(/\0/g, ''));

/** The real request each service exists for, answered below 500. */
const realRequest: Record<Name, { method: string; path: string; body?: string }> = {
  rng: { method: 'GET', path: '/32' },
  hasher: { method: 'POST', path: '/', body: 'hello' },
  worker: { method: 'GET', path: '/' },
  webui: { method: 'GET', path: '/json' },
};

type Request = { method: string; path: string; body?: string };
type Answer = { status: number; body: string } | string;

/** One request on its own connection: its status and body, or the error. */
function ask(host: string, port: number, { method, path: target, body }: Request): Promise<Answer> {
  return new Promise((resolve) => {
    const req = httpRequest({ host, port, method, path: target, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('latin1').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', (err) => resolve(String(err)));
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.end(body);
  });
}

/** /healthz, and the loopback address it answered on: a HOST such as `localhost` may name only ::1. */
async function health(port: number): Promise<{ host: string; answer: Answer }> {
  const answer = await ask('127.0.0.1', port, { method: 'GET', path: '/healthz' });
  if (typeof answer !== 'string' || !answer.includes('ECONNREFUSED')) return { host: '127.0.0.1', answer };
  return { host: '::1', answer: await ask('::1', port, { method: 'GET', path: '/healthz' }) };
}

/** Whether process `pid` holds the socket listening on `port` (the kernel's tables). */
function listensOn(pid: number, port: number): boolean {
  const inodes = new Set(socketInodes(port, [TCP_STATE.listen]));
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSafe(`/proc/${pid}/fd/${fd}`))?.[1] ?? ''));
  } catch {
    return false; // exited meanwhile
  }
}

const readlinkSafe = (link: string) => {
  try {
    return readlinkSync(link);
  } catch {
    return '';
  }
};

interface Case {
  service: Name;
  env: Record<string, string>;
}

const cases: fc.Arbitrary<Case> = fc
  .constantFrom<Name>('rng', 'hasher', 'worker', 'webui')
  .chain((service) =>
    fc.record({
      service: fc.constant(service),
      env: fc.dictionary(fc.constantFrom(...variables[service]), odd, { minKeys: 1, maxKeys: 3 }),
    }),
  )
  // PORT: only values that cannot bind a port of the machine's other users. An empty one is
  // unset (src/lib/config.ts), so it means the default port.
  .filter(({ env }) => env.PORT === undefined || (env.PORT !== '' && (!/^\s*\d+\s*$/.test(env.PORT) || Number(env.PORT) > 65535)))
  .map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.service} ${JSON.stringify(c.env).slice(0, 400)}` }));

type Outcomes = { served: number; refused: number };

/** One generated case on the real bundle: it serves and stops cleanly, or exits 1 with one line naming the variable. */
async function checkCase({ service, env }: Case, base: Record<string, string>, outcomes: Outcomes): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(distDir, `${service}.mjs`)], { env: { ...base, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const exitCode = () => Promise.race([exited, delay(20_000).then(() => 'still running')]);
  try {
    // Listening or exited (a bound against hangs on a busy machine). Probed only once the
    // port is its own: between freePort and listen, another process may have taken it.
    for (let tries = 0; child.exitCode === null && !listensOn(child.pid!, port) && tries < 400; tries++) await delay(50);
    const { host, answer: healthz } = child.exitCode === null ? await health(port) : { host: '', answer: 'exited' };
    if (child.exitCode !== null || typeof healthz === 'string') {
      assert.equal(await exitCode(), 1, `neither served (${String(healthz)}) nor exited 1: ${stderr}`);
      const lines = stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(stderr)}`);
      const named = Object.keys(env).some((name) => lines[0]!.includes(`${name}=`)) || (/^\w+: cannot listen on /.test(lines[0]!) && ('HOST' in env || 'PORT' in env));
      assert.ok(lines[0]!.startsWith(`${service}: `) && named, `the line names the variable: ${lines[0]}`);
      assert.equal(stdout, '', 'nothing on stdout');
      outcomes.refused += 1;
      return;
    }
    assert.deepEqual(healthz, { status: 200, body: 'ok\n' }, '/healthz');
    const answer = await ask(host, port, realRequest[service]);
    // A REDIS_URL that is empty (the default, redis://redis) or elsewhere may reach no Redis here: the web UI then says so in a 503.
    const noRedisHere = 'REDIS_URL' in env && typeof answer !== 'string' && answer.status === 503 && /^\{"error":"Redis is unavailable: [^\n]*"\}$/.test(answer.body);
    assert.ok(typeof answer !== 'string' && (answer.status < 500 || noRedisHere), `${service}'s real request: ${JSON.stringify(answer)}`);
    // Never a crash later: still up after a second request, then a clean stop.
    assert.ok(typeof (await ask(host, port, realRequest[service])) !== 'string', 'a second request answered');
    child.kill('SIGTERM');
    const code = await exitCode();
    assert.ok(service === 'worker' ? code === 0 || code === 1 : code === 143, `exit code ${code} after SIGTERM: ${stderr} ${stdout}`);
    assert.equal(stderr, '', 'nothing on stderr');
    outcomes.served += 1;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  }
}

/** Run first whatever the seed, so that each branch of the invariant is exercised. */
const bothOutcomes: [Case][] = [[{ service: 'rng', env: { LOG_LEVEL: 'silent' } }], [{ service: 'hasher', env: { PORT: 'eighty' } }]];

it('fuzz: generated odd values for every variable; starts and serves, or one line naming it', { timeout: BUDGET_MS + 120_000 }, async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  t.diagnostic(`seed ${seed} (FUZZ_SEED=${seed} replays it)`);
  const base = {
    PATH: process.env.PATH!,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    REDIS_URL: redis.url,
    RNG_URL: 'http://127.0.0.1:1',
    HASHER_URL: 'http://127.0.0.1:1',
    WEBUI_PUBLIC_DIR: path.join(distDir, 'public'),
  };
  const outcomes = { served: 0, refused: 0 };
  const started = performance.now();
  const budgeted = withinBudget(BUDGET_MS, (c: Case) => checkCase(c, base, outcomes));
  try {
    await fc.assert(fc.asyncProperty(cases, budgeted.run), { seed, numRuns: 10_000, examples: bothOutcomes, endOnFailure: true });
  } catch (err) {
    t.diagnostic(`FAILED with seed ${seed} after ${budgeted.runs()} runs`);
    throw err;
  }
  t.diagnostic(`${budgeted.runs()} runs (${outcomes.served} served, ${outcomes.refused} refused at start) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(outcomes.served >= 1 && outcomes.refused >= 1, `both outcomes seen: ${JSON.stringify(outcomes)}`);
});
