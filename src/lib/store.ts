// Where the worker records its work and the webui reads it: Redis (the workshop's keys),
// or, for a local run without any Redis, an in-process store with the same behaviour.
import { ClientClosedError, ClientOfflineError, ErrorReply, createClient } from '@redis/client';
import { ConfigError, withoutPassword } from './config.js';
import { RECORD_WORK } from './flush-script.js';
import { integerCounter, ofType, parseReport } from './key-types.js';

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

/** The operation got no answer in time; it may still be applied later. */
class StoreTimeoutError extends Error {
  override name = 'StoreTimeoutError';
}

/** A new connection was not up within the deadline: the operation was never sent. */
class NotConnectedError extends Error {
  override name = 'NotConnectedError';
}

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

export function redisStore({ url, deadlineMs = STORE_DEADLINE_MS, onError, onFatal }: RedisStoreOptions): Store {
  const connect = () => {
    const redis = createClient({
      ...redisAddress(url),
      // Fail at once while disconnected instead of queueing: callers decide what to do.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: deadlineMs,
        reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 500),
      },
    });
    const connection = {
      redis,
      /** Whether this client has been up at least once. */
      connected: false,
      /** Resolves when the client is first up. */
      firstConnection: new Promise<void>((resolve) => redis.once('ready', resolve)),
      lastError: undefined as Error | undefined,
    };
    void connection.firstConnection.then(() => (connection.connected = true));
    const failed = (err: Error) => {
      connection.lastError = err;
      const refusal = onFatal && urlRefusal(url, err);
      if (refusal) {
        if (redis.isOpen) redis.destroy();
        return onFatal(refusal);
      }
      onError?.(err);
    };
    redis.on('error', failed);
    // Connects in the background and keeps reconnecting; commands fail fast until it is up.
    redis.connect().catch(failed);
    return connection;
  };
  let connection = connect();
  let closed = false;
  // An operation still waiting for a first connection ends when the store closes, not at its deadline.
  let closing!: (err: Error) => void;
  const whenClosed = new Promise<never>((_, reject) => (closing = reject));
  whenClosed.catch(() => {});
  /** Connections replaced after a timeout, until their last operation's deadline has passed. */
  const retiring = new Set<typeof connection>();

  /**
   * Runs `operation` within the deadline. A new client (the first, or one replacing a broken
   * one) is waited for within that deadline, so that an operation asked for at start-up is not
   * refused as offline while the connection is on its way. The client's own timeout stops at a
   * command that has been written, so a stalled Redis would hold every caller: past the
   * deadline the connection is taken as broken and replaced, and later commands do not queue
   * behind the stalled ones. The old one is destroyed only one deadline later: the operations
   * still in flight on it each keep their own deadline (a read that a stall delayed by 1.2 s is
   * not failed because another one had waited since before the stall).
   */
  async function withDeadline<T>(operation: (redis: typeof connection.redis) => Promise<T>): Promise<T> {
    const used = connection;
    let expired = false;
    const answer = (async () => {
      if (!used.connected) await used.firstConnection;
      // Too late: the caller has been told it was not sent, so it must not be.
      if (expired) throw new NotConnectedError('connected after the deadline');
      return operation(used.redis);
    })();
    let settled = false;
    // Also keeps a late failure of the answer (its connection destroyed below) from going unhandled.
    answer.then(
      () => (settled = true),
      () => (settled = true),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      // Timers run before the event loop reads its sockets: a process starved past the deadline
      // (a loaded host) would call an answer already waiting on the socket a timeout. setImmediate
      // looks again after this turn's reads.
      timer = setTimeout(
        () =>
          setImmediate(() => {
            if (settled) return;
            expired = true;
            const why = used.lastError ? ` (${used.lastError.message})` : '';
            reject(used.connected ? new StoreTimeoutError(`no answer within ${deadlineMs} ms`) : new NotConnectedError(`not connected within ${deadlineMs} ms${why}`));
          }),
        deadlineMs,
      );
    });
    try {
      return await Promise.race([answer, late, whenClosed]);
    } catch (err) {
      if (err instanceof StoreTimeoutError && used === connection && !closed) {
        connection = connect();
        retiring.add(used);
        setTimeout(() => {
          retiring.delete(used);
          if (used.redis.isOpen) used.redis.destroy();
        }, deadlineMs).unref();
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    recordWork: (units, coins, report, flush, sent) =>
      withDeadline(async (redis) => {
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
      }),
    readTotals: () =>
      withDeadline(async (redis) => {
        const [coins, hashes] = await Promise.all([
          ofType(redis, KEYS.wallet, 'a hash', redis.hLen(KEYS.wallet)),
          ofType(redis, KEYS.hashes, 'an integer', redis.get(KEYS.hashes)),
        ]);
        return { coins, hashes: integerCounter(KEYS.hashes, hashes) };
      }),
    readReports: () =>
      withDeadline(async (redis) => {
        const keys: string[] = [];
        for await (const batch of redis.scanIterator({ MATCH: `${KEYS.workerPrefix}*`, COUNT: 500 })) {
          keys.push(...batch);
        }
        if (keys.length === 0) return [];
        const values = await redis.mGet(keys);
        return values.flatMap((v, i) => (v ? [parseReport(keys[i]!, v)] : []));
      }),
    readRecentCoins: () =>
      withDeadline((redis) => ofType(redis, KEYS.recentCoins, 'a list', redis.lRange(KEYS.recentCoins, 0, RECENT_COINS - 1))),
    ping: () => withDeadline(async (redis) => void (await redis.ping())),
    async close() {
      closed = true;
      closing(new NotConnectedError('the store is closed'));
      for (const used of [connection, ...retiring]) if (used.redis.isOpen) used.redis.destroy();
      retiring.clear();
    },
  };
}

/**
 * Where the client connects. The client's "maintenance notifications" (a Redis Enterprise
 * feature we do not use) look up the URL's hostname with its brackets, so `redis://[::1]` failed
 * with getaddrinfo ENOTFOUND [::1].
 */
function redisAddress(url: string) {
  return { url, maintNotifications: 'disabled' as const };
}

/** The error as a fault of REDIS_URL, when it is one. */
function urlRefusal(url: string, err: Error): ConfigError | undefined {
  if (!(err instanceof ErrorReply && /DB index is out of range/.test(err.message))) return undefined;
  const database = new URL(url).pathname.slice(1);
  return new ConfigError(`invalid REDIS_URL=${JSON.stringify(withoutPassword(url))}: Redis has no database ${database} (${err.message})`);
}
