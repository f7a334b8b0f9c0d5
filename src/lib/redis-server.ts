// A throwaway redis-server on this machine, and free ports to run things on: for `dockercoins
// start`, the tests and bench alike.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { urlHost } from './address.js';
import { sleep } from './sleep.js';

export interface RedisServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Starts redis-server (on a free port and 127.0.0.1 unless told) with no persistence, and `args`; undefined
 * when it is not installed. It runs in its own process group, so that a Ctrl-C in the terminal
 * reaches only us: `dockercoins start` stops it last, after the workers have saved their counts.
 */
export async function startRedisServer(port?: number, args: string[] = [], bind = '127.0.0.1'): Promise<RedisServer | undefined> {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', bind, '--save', '', '--appendonly', 'no', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // Detached, it would outlive us if we exited without stopping it.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  child.once('exit', () => process.off('exit', orphaned));
  const started = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve(true);
    });
    child.once('exit', () => resolve(false));
    setTimeout(() => resolve(false), 5000).unref();
  });
  if (!started) {
    child.kill('SIGKILL');
    return undefined;
  }
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url: `redis://${urlHost(bind)}:${port}`,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(2000)]);
    },
  };
}

/** A TCP port free on 127.0.0.1 now (the system's pick), for a server started next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

