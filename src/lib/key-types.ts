// What the web UI reads from Redis must hold what DockerCoins writes there: a key written by
// something else (another type, a counter that is not an integer) is named, never read as zero
// nor taken for Redis being down.
import { ErrorReply } from '@redis/client';
import type { WorkerReport } from './store.js';

/** A key holds what DockerCoins never writes there; the message names it and what it holds. */
export class WrongTypeError extends Error {
  override name = 'WrongTypeError';
}

/** `read` of `key`, a WRONGTYPE reply turned into a WrongTypeError that names the key and what it holds. */
export async function ofType<T>(redis: { type(key: string): Promise<string> }, key: string, expected: string, read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (err) {
    if (!(err instanceof ErrorReply && err.message.startsWith('WRONGTYPE'))) throw err;
    throw new WrongTypeError(`Redis key ${key} holds a ${await redis.type(key)}, not ${expected}`);
  }
}

/** The counter's value as Redis holds it (a string, as /json answers it), or the error naming it. */
export function integerCounter(key: string, value: string | null): string | null {
  if (value !== null && !/^-?\d+$/.test(value)) throw new WrongTypeError(`Redis key ${key} holds ${JSON.stringify(value.slice(0, 20))}, not an integer`);
  return value;
}

export function parseReport(key: string, value: string): WorkerReport {
  let report: unknown;
  try {
    report = JSON.parse(value);
  } catch {
    report = undefined;
  }
  if (!isReport(report)) throw new WrongTypeError(`Redis key ${key} holds ${JSON.stringify(value.slice(0, 20))}, not a worker report`);
  return report;
}

/** The fields the sampler reads, checked by hand: a schema per report costs at 10,000 workers. */
function isReport(r: unknown): r is WorkerReport {
  if (typeof r !== 'object' || r === null) return false;
  const { worker, at, intervalMs, units, rng, hasher } = r as Record<string, unknown>;
  const numbers = [at, intervalMs, units].every((n) => typeof n === 'number' && Number.isFinite(n));
  return typeof worker === 'string' && numbers && typeof rng === 'object' && rng !== null && typeof hasher === 'object' && hasher !== null;
}
