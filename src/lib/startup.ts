// A service's start-up, the one place every main.ts and `dockercoins start` go through: whatever
// stops it (a bad variable, a HOST that does not resolve, an address or port it cannot listen on)
// is one line on stderr naming the cause, and exit code 1, never a stack trace.
import { ConfigError } from './config.js';
import { describeError } from './errors.js';

/** Runs `start` (read the configuration, build, listen) and gives its result; on failure writes `<service>: <cause>` and exits 1. */
export async function runService<T>(service: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    return stopOnFailure(service, err);
  }
}

/** Writes `<service>: <cause>` in one line and exits 1: for a start, or a configuration Redis refuses later. */
export function stopOnFailure(service: string, err: unknown): never {
  // stderr is synchronous on pipes and files: the line is out before the exit.
  process.stderr.write(`${service}: ${startFailure(err)}\n`);
  process.exit(1);
}

const listenFailures: Record<string, string> = {
  EADDRINUSE: 'the port is already in use',
  EADDRNOTAVAIL: 'this machine has no such address',
  EACCES: 'permission denied (a port below 1024 needs privileges)',
};

/** One line for what stopped the start. */
function startFailure(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  const e = err as NodeJS.ErrnoException & { hostname?: string; address?: string; port?: number };
  const code = e.code ?? '';
  if (e.syscall === 'getaddrinfo') return `invalid HOST=${JSON.stringify(e.hostname)}: it does not resolve to an address (${code})`;
  if (e.syscall === 'listen') {
    const address = e.address?.includes(':') ? `[${e.address}]` : e.address;
    const where = e.port ? `${address}:${e.port}` : address;
    return `cannot listen on ${where}: ${listenFailures[code] ? `${listenFailures[code]} (${code})` : describeError(err)}`;
  }
  return `cannot start: ${describeError(err)}`;
}
