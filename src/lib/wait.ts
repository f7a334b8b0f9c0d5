// Waiting by polling, the one loop the CLI, the tests and bench use: ask `check` again and
// again until it has an answer, the time is up, or the caller gives up.
import { sleep } from './sleep.js';

/** An expectation failed: the reason says which and by how much. Thrown by a check, it ends the wait at once. */
export class Failure extends Error {}
/** The caller's signal (Ctrl-C) stopped the wait. */
export class Interrupted extends Error {}

export interface WaitOptions {
  timeoutMs: number;
  /** Time between two checks (default 1 s). */
  everyMs?: number;
  signal?: AbortSignal;
  /** Told how long it has waited, after each check that had no answer. */
  progress?: (line: string) => void;
}

/**
 * Calls `check` until it returns something other than undefined, and resolves with that. An
 * error thrown by `check` is the reason it is not done yet (given on timeout), unless it is a
 * Failure. On timeout: a Failure naming `what` and the last reason.
 */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, o: WaitOptions): Promise<T> {
  const started = performance.now();
  let last = 'no answer yet';
  while (!o.signal?.aborted) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      if (o.signal?.aborted) break;
      if (err instanceof Failure) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    const waited = performance.now() - started;
    if (waited >= o.timeoutMs) throw new Failure(`${what}: not done after ${(waited / 1000).toFixed(1)} s (${last})`);
    o.progress?.(`waiting for ${what} (${Math.round(waited / 1000)} s)`);
    await sleep(o.everyMs ?? 1000, o.signal);
  }
  throw new Interrupted(`interrupted while waiting for ${what}`);
}
