// A real redis-server for the tests, on a free port, that a test may stop and restart.
// Missing redis-server: a failure under CI=true (CI must test Redis for real), a loud skip elsewhere.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { createClient } from '@redis/client';

const newClient = (url: string) => createClient({ url, socket: { reconnectStrategy: 100 } });
import { startRedisServer } from '../../src/lib/redis-server.js';
import { KEYS, type WorkerReport } from '../../src/lib/store.js';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** True when redis-server is installed; else marks the test skipped, loudly (a failure under CI=true). */
export function canRunRedisServer(t: TestContext): boolean {
  if (hasRedisServer) return true;
  if (process.env.CI === 'true') throw new Error('redis-server is not installed (CI=true): apt-get install -y redis-server');
  console.warn('\n!!! SKIPPING: redis-server is not installed; apt-get install -y redis-server to run this test !!!\n');
  t.skip('redis-server is not installed');
  return false;
}

export interface TestRedis {
  url: string;
  port: number;
  client: ReturnType<typeof newClient>;
  /** Stops the server (connections drop). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty; nothing if it runs. */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  close(): Promise<void>;
}

/** The newest report of the worker named `name` (each worker process writes its own key). */
export async function reportOf(client: TestRedis['client'], name: string): Promise<WorkerReport | undefined> {
  const keys = await client.keys(`${KEYS.workerPrefix}*`);
  const reports = keys.length > 0 ? (await client.mGet(keys)).map((v) => JSON.parse(v ?? '{}') as WorkerReport) : [];
  return reports.filter((r) => r.worker === name).sort((a, b) => b.at - a.at)[0];
}

/** Returns undefined (and marks the test skipped) when there is no redis-server outside CI. */
export async function testRedis(t: TestContext, args: string[] = []): Promise<TestRedis | undefined> {
  if (!canRunRedisServer(t)) return undefined;
  let server = await startRedisServer(undefined, args);
  if (!server) throw new Error('redis-server did not start');
  const port = server.port;
  const client = newClient(server.url);
  client.on('error', () => {});
  await client.connect();
  const redis: TestRedis = {
    url: server.url,
    port,
    client,
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async start() {
      if (server) return;
      server = await startRedisServer(port, args);
      if (!server) throw new Error(`redis-server did not restart on port ${port}`);
    },
    pause: () => void server?.process.kill('SIGSTOP'),
    resume: () => void server?.process.kill('SIGCONT'),
    async close() {
      server?.process.kill('SIGCONT');
      client.destroy();
      await server?.stop();
    },
  };
  t.after(() => redis.close());
  return redis;
}
