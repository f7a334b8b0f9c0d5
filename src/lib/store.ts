// Where the worker records its work and the webui reads it: Redis (the workshop's keys),
// or, for a local run without any Redis, an in-process store with the same behaviour.
import { ClientClosedError, ClientOfflineError, ErrorReply } from '@redis/client';
import type { ConfigError } from './config.js';
import { RECORD_WORK } from './flush-script.js';
import { integerCounter, ofType, parseReport } from './key-types.js';
import { NotConnectedError, RedisConnections, type Redis } from './redis-connections.js';

/** Redis keys. `hashes` and `wallet` are the original's; the rest are ours. */
export const KEYS = {
  hashes: 'hashes', // string holding an integer, INCRBY
  wallet: 'wallet', // hash: hex digest -> the 32 random bytes
  recentCoins: 'dockercoins:recent-coins', // list of the newest coins' hex, newest first
  workerPrefix: 'dockercoins:worker:', // one report per worker process, expiring
  flushPrefix: 'dockercoins:flush:', // per worker process: the seq of its last applied flush
} as const;

export const RECENT_COINS = 20;
/** A worker that stops reporting disappears from the dashboard after this long. */
export const REPORT_TTL_SECONDS = 10;

export interface Coin {
  hex: string;
  bytes: Buffer;
}

/** Calls to one rng or hasher instance during one flush interval. */
export interface CallStats {
  calls: number;
  totalMs: number;
  maxMs: number;
}

/** What a worker says at each flush about the interval since the previous one. */
export interface WorkerReport {
  worker: string;
  /** Unix time of the flush, ms. */
  at: number;
  intervalMs: number;
  units: number;
  rng: Record<string, CallStats>;
  hasher: Record<string, CallStats>;
  /** The worker's last report: it is stopping. */
  final?: boolean;
  /** Unique to the worker process (its flush writer): workers sharing a name are told apart. */
  process?: string;
}

export interface Totals {
  coins: number;
  hashes: string | null;
}

/**
 * Names one flush: `writer` is unique to a worker process (a restarted worker of the same name
 * is a new writer), `seq` counts its flushes 1, 2, 3...
 *
 * The at-most-once rule, which every store keeps: a flush is applied whole or not at all, and
 * only if its seq is above the last one applied for its writer. So a flush whose answer was
 * lost can be sent again safely, and one that failed changed nothing.
 */
export interface FlushId {
  writer: string;
  seq: number;
}

export interface Store {
  /**
   * Adds units to the counter, the coins to the wallet and stores the report, by FlushId's rule.
   * `sent` is called when the flush leaves for the store: until then, a failure surely changed nothing.
   * If it throws, the flush is not sent and the call fails with that error.
   */
  recordWork(units: number, coins: Coin[], report: WorkerReport, flush: FlushId, sent?: () => void): Promise<void>;
  readTotals(): Promise<Totals>;
  readReports(): Promise<WorkerReport[]>;
  readRecentCoins(): Promise<string[]>;
  /** Resolves when the store answers, within the deadline; throws the reason otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * By default every store operation gets an answer or fails within this time. Redis answers in well
 * under a millisecond: 1 s means it is stalled or gone, and with the worker's flush each second a
 * stall is reported within 2 s. A false alarm costs a log line and a retry, never a count.
 */
export const STORE_DEADLINE_MS = 1000;
/**
 * The web UI's deadline: a Redis slowed for a second or two by a busy node is not an outage, and
 * a page that said "unavailable" then would be wrong (the worker keeps 1 s: it retries unseen).
 */
export const WEBUI_STORE_DEADLINE_MS = 3000;
/** How long Redis remembers a writer's last applied flush: longer than any retry. */
const FLUSH_ID_TTL_SECONDS = 24 * 3600;

/** Whether a failed write may still have reached Redis (so its outcome is unknown) or surely did not. */
export function mayHaveBeenApplied(err: unknown): boolean {
  return !(err instanceof ClientOfflineError || err instanceof ClientClosedError || err instanceof ErrorReply || err instanceof NotConnectedError);
}

export interface RedisStoreOptions {
  url: string;
  /** An operation that gets no answer within this time fails (Redis stalled or unreachable). */
  deadlineMs?: number;
  onError?: (err: Error) => void;
  /** Redis refuses what the URL asks for (a database it does not have): retrying cannot help. */
  onFatal?: (err: ConfigError) => void;
}

export function redisStore({ deadlineMs = STORE_DEADLINE_MS, ...options }: RedisStoreOptions): Store {
  const connections = new RedisConnections({ ...options, deadlineMs });
  return {
    recordWork: (units, coins, report, flush, sent) => connections.withDeadline((redis) => recordFlush(redis, units, coins, report, flush, sent)),
    readTotals: () => connections.withDeadline(readTotals),
    readReports: () => connections.withDeadline(readReports),
    readRecentCoins: () =>
      connections.withDeadline((redis) => ofType(redis, KEYS.recentCoins, 'a list', redis.lRange(KEYS.recentCoins, 0, RECENT_COINS - 1))),
    ping: () => connections.withDeadline(async (redis) => void (await redis.ping())),
    close: async () => connections.close(),
  };
}

/** The flush, applied whole or not at all by the script (FlushId's rule). */
async function recordFlush(redis: Redis, units: number, coins: Coin[], report: WorkerReport, flush: FlushId, sent?: () => void): Promise<void> {
  sent?.();
  await redis.eval(RECORD_WORK, {
    keys: [KEYS.hashes, KEYS.wallet, KEYS.recentCoins, KEYS.workerPrefix + flush.writer, KEYS.flushPrefix + flush.writer],
    arguments: [
      String(flush.seq),
      String(units),
      JSON.stringify(report),
      String(REPORT_TTL_SECONDS),
      String(RECENT_COINS),
      String(FLUSH_ID_TTL_SECONDS),
      ...coins.flatMap((coin) => [coin.hex, coin.bytes]),
    ],
  });
}

async function readTotals(redis: Redis): Promise<Totals> {
  const [coins, hashes] = await Promise.all([
    ofType(redis, KEYS.wallet, 'a hash', redis.hLen(KEYS.wallet)),
    ofType(redis, KEYS.hashes, 'an integer', redis.get(KEYS.hashes)),
  ]);
  return { coins, hashes: integerCounter(KEYS.hashes, hashes) };
}

async function readReports(redis: Redis): Promise<WorkerReport[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: `${KEYS.workerPrefix}*`, COUNT: 500 })) {
    keys.push(...batch);
  }
  if (keys.length === 0) return [];
  const values = await redis.mGet(keys);
  return values.flatMap((v, i) => (v ? [parseReport(keys[i]!, v)] : []));
}
