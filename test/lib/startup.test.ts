// Every start-up problem ends the service's process with exit code 1 and one line on stderr
// naming the cause (real bundles, real sockets).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { distDir } from '../../src/lib/paths.js';

async function start(service: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [path.join(distDir, `${service}.mjs`)], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', REDIS_URL: 'redis://127.0.0.1:1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  // A service that starts despite the fault never exits: killed after 10 s, the test fails.
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const cases: [service: string, env: Record<string, string>, line: RegExp][] = [
  ['rng', { RNG_DELAY_MS: '-5' }, /^rng: invalid RNG_DELAY_MS="-5": expected a whole number of milliseconds/],
  ['worker', { RNG_URL: 'not a url' }, /^worker: invalid RNG_URL="not a url": expected an http:\/\/ URL/],
  ['hasher', { HASHER_DELAY_MS: 'soon' }, /^hasher: invalid HASHER_DELAY_MS="soon"/],
  ['webui', { REDIS_URL: 'nowhere' }, /^webui: invalid REDIS_URL="nowhere": expected a redis:\/\/ URL: redis:\/\/\[user:password@\]host\[:port\]\[\/database number\]$/],
  // Node turns a timer above 2^31-1 ms into 1 ms: 3,000,000,000 ms was a 1 ms delay.
  ['rng', { RNG_DELAY_MS: '3000000000' }, /^rng: invalid RNG_DELAY_MS="3000000000": expected at most 2147483647 ms \(the longest a timer holds\)$/],
  ['worker', { CALL_TIMEOUT_MS: '99999999999' }, /^worker: invalid CALL_TIMEOUT_MS="99999999999": expected at most 2147483647 ms/],
  ['hasher', { HASHER_MAX_BODY_BYTES: '0' }, /^hasher: invalid HASHER_MAX_BODY_BYTES="0": expected a whole number from 1 to 1073741824$/],
  ['webui', { WEBUI_PUBLIC_DIR: '/no/such/folder' }, /^webui: invalid WEBUI_PUBLIC_DIR="\/no\/such\/folder": expected a folder holding index.html$/],
  ['rng', { HOST: '999.1.1.1' }, /^rng: invalid HOST="999.1.1.1": it does not resolve to an address \((ENOTFOUND|EAI_AGAIN)\)$/],
  ['hasher', { HOST: 'no-such-host.invalid' }, /^hasher: invalid HOST="no-such-host.invalid": it does not resolve to an address \((ENOTFOUND|EAI_AGAIN)\)$/],
  // Sent in the X-Instance header, which Node refuses outside Latin-1: it was accepted, then rng died at its first request.
  ['rng', { INSTANCE_NAME: '日本語' }, /^rng: invalid INSTANCE_NAME="日本語": expected 1 to 100 printable ASCII characters/],
  ['webui', { INSTANCE_NAME: 'a\nb' }, /^webui: invalid INSTANCE_NAME="a\\nb": expected 1 to 100 printable ASCII characters/],
  ['worker', { HASHER_URL: 'http://user:secret@hasher' }, /^worker: invalid HASHER_URL="http:\/\/user:\*\*\*@hasher": expected an http:\/\/ URL \(a path, but no user/],
  // 192.0.2.1 is TEST-NET-1: documentation only, no machine has it.
  ['worker', { HOST: '192.0.2.1' }, /^worker: cannot listen on 192.0.2.1: this machine has no such address \(EADDRNOTAVAIL\)$/],
];

/** The one line on stderr is the whole story: nothing on stdout (no build line of a start that failed). */
function assertNothingElse(stdout: string) {
  assert.equal(stdout, '');
}

describe('start-up problems: exit 1, one line on stderr naming the cause', () => {
  for (const [service, env, line] of cases) {
    it(`${service} with ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`, async () => {
      const run = await start(service, env);
      assert.equal(run.code, 1, run.stderr);
      assert.deepEqual(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(run.stderr.trimEnd(), line);
      assertNothingElse(run.stdout);
    });
  }

  for (const service of ['rng', 'hasher', 'webui', 'worker']) {
    it(`${service} on a port already in use`, async (t) => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      t.after(() => taken.close());
      const { port } = taken.address() as { port: number };
      const run = await start(service, { PORT: String(port) });
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr, `${service}: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE)\n`);
      assertNothingElse(run.stdout);
    });
  }

  it('rng on a port already in use, at the default HOST (::, or 0.0.0.0 without IPv6)', async (t) => {
    const taken = createServer();
    const listenOn = (host: string) =>
      new Promise<string>((resolve, reject) => taken.once('error', reject).listen(0, host, () => resolve(host)));
    const host = await listenOn('::').catch(() => listenOn('0.0.0.0'));
    t.after(() => taken.close());
    const { port } = taken.address() as { port: number };
    const run = await start('rng', { PORT: String(port), HOST: '' });
    assert.equal(run.code, 1, run.stderr);
    const address = host === '::' ? '[::]' : host;
    assert.equal(run.stderr, `rng: cannot listen on ${address}:${port}: the port is already in use (EADDRINUSE)\n`);
  });
});
