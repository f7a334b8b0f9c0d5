// Runs a service's real bundle (dist/<service>.mjs, built by `npm test`'s pretest) as its own
// process, on a free port, with its JSON log lines collected.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { urlHost } from '../../src/lib/address.js';
import { distDir, repositoryRoot } from '../../src/lib/paths.js';
import { freePort } from '../../src/lib/redis-server.js';
import { Failure, waitUntil } from '../../src/lib/wait.js';

/**
 * NODE_OPTIONS for a service whose lookups of these names answer these addresses, in order
 * (test/helpers/hosts.mjs): `{ 'rng.v6': ['::1'] }` gives the name AAAA records only.
 */
export function withHosts(hosts: Record<string, string[]>): Record<string, string> {
  return {
    NODE_OPTIONS: `--import ${path.join(repositoryRoot, 'test/helpers/hosts.mjs')}`,
    TEST_HOSTS: Object.entries(hosts).map(([name, addresses]) => `${name}=${addresses.join(',')}`).join(';'),
  };
}

export interface LogLine {
  msg: string;
  level: number;
  [key: string]: unknown;
}

export interface ServiceProcess {
  name: string;
  url: string;
  port: number;
  child: ChildProcess;
  logs: LogLine[];
  stderr: string[];
  /** Sends the signal and resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  /** Starts the same service again, same port and environment. */
  restart(): Promise<void>;
}

export async function startService(
  t: TestContext | undefined,
  service: 'rng' | 'hasher' | 'worker' | 'webui',
  env: Record<string, string>,
  options: { port?: number; waitHealthy?: boolean; host?: string } = {},
): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const host = options.host ?? '127.0.0.1';
  const proc: ServiceProcess = {
    name: service,
    url: `http://${urlHost(host)}:${port}`,
    port,
    child: undefined as unknown as ChildProcess,
    logs: [],
    stderr: [],
    async stop(signal = 'SIGTERM') {
      const child = proc.child;
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, ms: 0 };
      const started = performance.now();
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = (await Promise.race([exited, delay(10_000).then(() => [null])])) as [number | null];
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return { code, ms: performance.now() - started };
    },
    async restart() {
      await proc.stop();
      await launch();
    },
  };
  const launch = async () => {
    const child = spawn(process.execPath, [path.join(distDir, `${service}.mjs`)], {
      env: { PATH: process.env.PATH, HOST: host, PORT: String(port), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        proc.logs.push(JSON.parse(line) as LogLine);
      } catch {
        proc.stderr.push(line);
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => proc.stderr.push(line));
    if (options.waitHealthy ?? true) await waitHealthy(proc);
  };
  // Registered first: a service that never gets healthy is still ended with the test.
  t?.after(async () => {
    await proc.stop('SIGKILL');
  });
  await launch();
  return proc;
}

/**
 * rng and hasher processes with `delays` (RNG_DELAY_MS, HASHER_DELAY_MS; WORK_DELAY_MS is the
 * worker's), and the environment of a worker that uses them and the Redis at `redisUrl`.
 */
export async function startUpstreams(t: TestContext, delays: Record<string, string>, redisUrl: string) {
  const rng = await startService(t, 'rng', delays);
  const hasher = await startService(t, 'hasher', delays);
  return { rng, hasher, workerEnv: { ...delays, RNG_URL: rng.url, HASHER_URL: hasher.url, REDIS_URL: redisUrl } };
}

/** A bound against hangs, not a speed claim: a start on a busy 2-core machine can take 10 s. */
export async function waitHealthy(proc: ServiceProcess, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${proc.name} to answer /healthz`,
    async () => {
      if (proc.child.exitCode !== null) throw new Failure(`${proc.name} exited with ${proc.child.exitCode}: ${proc.stderr.join('\n')}`);
      return (await fetch(`${proc.url}/healthz`)).ok || undefined;
    },
    timeoutMs,
  );
}

/** waitUntil at the tests' pace: every 50 ms, 10 s at most unless told. */
export const waitFor = <T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> =>
  waitUntil(what, check, { timeoutMs, everyMs: 50 });

/** A worker's shutdown, from "SIGTERM received" to "worker stopped", by its own clock (the machine may be busy). */
export async function workerShutdownMs(proc: ServiceProcess): Promise<number> {
  const [received, stopped] = await waitFor(`${proc.name}'s final log line`, () => {
    const received = proc.logs.findLast((l) => l.msg === 'SIGTERM received, shutting down');
    const stopped = proc.logs.findLast((l) => l.msg.startsWith('worker stopped'));
    return received && stopped && String(stopped.time) > String(received.time) ? [received, stopped] : undefined;
  });
  return Date.parse(stopped.time as string) - Date.parse(received.time as string);
}
