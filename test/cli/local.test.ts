// `dockercoins start`, run as a user would: the bundled CLI as a child process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { canRunRedisServer } from '../helpers/redis.js';
import { waitFor, withHosts } from '../helpers/processes.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { Failure } from '../../src/lib/wait.js';
import { rngPorts, startLocal } from '../../src/cli/local.js';

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A web UI port for the CLI, which also takes the next two and 100 + i for extra rng instances:
 * all free now, and below the ephemeral range, where the machine's outgoing connections would
 * take them at random.
 */
async function portsForCli(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const free = await Promise.all([0, 1, 2, 101, 102].map((offset) => canListen(port + offset)));
    if (free.every(Boolean)) return port;
  }
  throw new Error('no free run of ports between 20000 and 30100');
}

async function runCli(t: TestContext, args: string[], PATH: string, env: Record<string, string> = {}, host = '127.0.0.1') {
  const port = await portsForCli();
  const child = spawn(process.execPath, [path.join(root, 'dist/cli.mjs'), 'start', '--port', String(port), ...args], {
    env: { PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as in a terminal: Ctrl-C goes to the whole group.
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  t.after(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  // A loaded machine may take a while to start it all.
  await waitFor('the URL line', () => {
    if (child.exitCode !== null) throw new Failure(`the CLI exited with ${child.exitCode}`);
    return output.includes('open http://localhost:') ? true : undefined;
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; output: ${output}`);
  });
  const json = async () => (await (await fetch(`http://${host}:${port}/json`)).json()) as { hashes: string | null };
  const first = Number((await waitFor('a first count', async () => (await json()).hashes ?? undefined)) ?? 0);
  await waitFor('the count to climb', async () => (Number((await json()).hashes) > first ? true : undefined), 5000);
  const redisPort = /Redis: a throwaway redis-server on redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
  // Outside the CLI's process group, so that the terminal's Ctrl-C does not stop it early.
  const redisGroup = redisPort ? await processGroupOf(`redis-server 127.0.0.1:${redisPort}\0`) : undefined;
  if (redisGroup !== undefined) assert.notEqual(redisGroup, child.pid, 'the redis-server is in a process group of its own');
  process.kill(-child.pid!, 'SIGINT');
  const [code] = await once(child, 'exit');
  return { output, port, code: code as number };
}

/** The process group of the process whose command line (as redis-server sets it) starts with `title` (Linux /proc). */
async function processGroupOf(title: string): Promise<number> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith(title)) continue;
    // Field 5 of /proc/<pid>/stat, after the parenthesised command name.
    return Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[2]);
  }
  throw new Error(`no process ${title} found`);
}

describe('dockercoins start', () => {
  it('runs the app with an in-process store when there is no Redis at all, and stops on Ctrl-C', async (t) => {
    // A PATH with node and nothing else: no redis-server to be found.
    const bin = await mkdtemp(path.join(tmpdir(), 'dockercoins-path-'));
    await symlink(process.execPath, path.join(bin, 'node'));
    t.after(() => rm(bin, { recursive: true }));
    const { output, port, code } = await runCli(t, ['--workers', '2'], bin);
    assert.match(output, /using an in-process store/);
    assert.match(output, new RegExp(`open http://localhost:${port}`));
    // 0, not 1: it stopped within its own 3 s deadline (src/cli/local.ts).
    assert.equal(code, 0);
  });

  it('starts a throwaway redis-server when one is on PATH', async (t) => {
    if (!canRunRedisServer(t)) return;
    const { output, code } = await runCli(t, ['--workers', '3', '--rng', '2'], process.env.PATH!);
    assert.match(output, /Redis: a throwaway redis-server on redis:\/\/127\.0\.0\.1:\d+/);
    assert.match(output, /rng: http:\/\/localhost:\d+, http:\/\/localhost:\d+ {3}hasher/);
    // Ctrl-C reached the whole group, the CLI's redis-server excepted: stopped last, it lost nothing.
    const [, units, saved] = /stopped: (\d+) units done, (\d+) saved, 0 not saved\n/.exec(output) ?? [];
    assert.ok(Number(units) > 0 && saved === units, output);
    assert.equal(code, 0);
    const redisPort = Number(/redis:\/\/127\.0\.0\.1:(\d+)/.exec(output)![1]);
    await waitFor('the redis-server gone', () => new Promise<true | undefined>((resolve) => {
      const socket = connect(redisPort, '127.0.0.1');
      socket.on('connect', () => resolve(socket.destroy() && undefined));
      socket.on('error', () => resolve(true));
    }));
  });

  for (const host of ['[::1]', '127.0.0.1']) {
    it(`where localhost resolves to ::1 first: the app counts, and answers on ${host}`, async (t) => {
      const { output, code } = await runCli(t, ['--workers', '2', '--rng', '2'], process.env.PATH!, withHosts({ localhost: ['::1', '127.0.0.1'] }), host);
      assert.match(output, /rng: http:\/\/localhost:\d+, http:\/\/localhost:\d+ {3}hasher/);
      assert.equal(code, 0);
    });
  }

  // Each problem found at a different stage: the throwaway redis-server (started first) must be
  // stopped again, and the output is the one line runService() gives the services.
  const inUse = (port: number) => new RegExp(`^dockercoins start: cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use \\(EADDRINUSE\\)$`);
  const startFailures: [what: string, taken: number | undefined, args: string[], env: Record<string, string>, line: (takenPort: number) => RegExp][] = [
    ['the web UI port in use (the last to listen)', 0, ['--host', '127.0.0.1'], {}, inUse],
    ['the hasher port in use', 2, ['--host', '127.0.0.1'], {}, inUse],
    ['a --host that does not resolve', undefined, ['--host', 'no-such-host.invalid'], {},
      () => /^dockercoins start: invalid HOST="no-such-host\.invalid": it does not resolve to an address \((ENOTFOUND|EAI_AGAIN)\)$/],
    ['a bad variable', undefined, ['--host', '127.0.0.1'], { WORK_DELAY_MS: 'soon' },
      () => /^dockercoins start: invalid WORK_DELAY_MS="soon": expected a whole number of milliseconds/],
  ];
  for (const [what, offset, args, env, line] of startFailures) {
    it(`start-up problem, ${what}: one line naming it, exit 1, its throwaway redis-server stopped`, async (t) => {
      const port = await portsForCli();
      if (offset !== undefined) {
        const taken = createServer();
        await new Promise<void>((resolve) => taken.listen(port + offset, '127.0.0.1', resolve));
        t.after(() => taken.close());
      }
      const child = spawn(process.execPath, [path.join(root, 'dist/cli.mjs'), 'start', '--port', String(port), ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      t.after(() => child.exitCode === null && child.kill('SIGKILL'));
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      const [code] = await once(child, 'close');
      assert.equal(code, 1, stderr);
      assert.equal(stderr.split('\n').length, 2, `one line: ${stderr}`);
      assert.match(stderr.trimEnd(), line(port + (offset ?? 0)));
      // Without redis-server on PATH, the in-process store: nothing to stop.
      const redisPort = /Redis: a throwaway redis-server on redis:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1];
      if (redisPort) assert.equal(await canListen(Number(redisPort)), true, 'its redis-server was stopped');
      else assert.match(stdout, /using an in-process store/);
    });
  }

  it('startLocal, in process: a start that fails half-way closes what it had started', async (t) => {
    const port = await portsForCli();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(port, '127.0.0.1', resolve));
    t.after(() => taken.close());
    const lines: string[] = [];
    const started = startLocal({ workers: 2, rng: 2, host: '127.0.0.1', webuiPort: port, rngPort: port + 1, hasherPort: port + 2, env: {}, say: (l) => lines.push(l) });
    await assert.rejects(started, { code: 'EADDRINUSE', port });
    const redisPort = Number(/redis:\/\/127\.0\.0\.1:(\d+)/.exec(lines.join('\n'))?.[1] ?? NaN);
    const opened = [...rngPorts(port + 1, 2), port + 2, ...(redisPort ? [redisPort] : [])];
    assert.deepEqual(await Promise.all(opened.map(canListen)), opened.map(() => true), `ports ${opened.join(', ')} free again (${lines.join('; ')})`);
  });

  it('refuses a bad option with a clear message', async () => {
    const child = spawn(process.execPath, [path.join(root, 'dist/cli.mjs'), 'start', '--workers', 'many'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(stderr, /option '-w, --workers <n>' argument 'many' is invalid\. expected a whole number from 0 to 200/);
  });
});
