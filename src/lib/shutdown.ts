// What a server does at close: ends the waits of requests in flight, and lets their answers go
// before the connections are cut.
import type { Server } from 'node:http';
import { promisify } from 'node:util';
import { sleep } from './sleep.js';

/**
 * At close, how long requests in flight have to be answered before their connections are cut:
 * their waits end at once (Service.shutdown), so this only bounds a body still arriving or
 * leaving; well within the exit deadline (src/lib/signals.ts).
 */
export const DRAIN_MS = 300;

/**
 * Closes every idle connection, again as requests in flight are answered, until none is left or
 * `ms` have passed; fastify then cuts what remains. Polled: Node says when a connection closes,
 * not when it turns idle.
 */
export async function drain(server: Server, ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    server.closeIdleConnections();
    const open = await promisify(server.getConnections.bind(server))();
    if (open === 0 || performance.now() >= until) return;
    await sleep(10);
  }
}

/** What `work` gives, or undefined as soon as `signal` aborts (Service.shutdown, say). */
export function untilShutdown<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const stop = () => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    const settled = () => signal.removeEventListener('abort', stop);
    work.then(
      (value) => {
        settled();
        resolve(value);
      },
      (err: unknown) => {
        settled();
        reject(err as Error);
      },
    );
  });
}
