// Where the worker records its work and the webui reads it: Redis (the workshop's keys),
// or, for a local run without any Redis, an in-process store with the same behaviour.
import { createClient } from '@redis/client';

/** Redis keys. `hashes` and `wallet` are the original's; the rest are ours. */
export const KEYS = {
  hashes: 'hashes', // string holding an integer, INCRBY
  wallet: 'wallet', // hash: hex digest -> the 32 random bytes
  recentCoins: 'dockercoins:recent-coins', // list of the newest coins' hex, newest first
  workerPrefix: 'dockercoins:worker:', // one report per worker, expiring
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
}

export interface Totals {
  coins: number;
  hashes: string | null;
}

export interface Store {
  /** Adds units to the counter, the coins to the wallet and stores the report, all at once. */
  recordWork(units: number, coins: Coin[], report: WorkerReport): Promise<void>;
  readTotals(): Promise<Totals>;
  readReports(): Promise<WorkerReport[]>;
  readRecentCoins(): Promise<string[]>;
  close(): Promise<void>;
}

export interface RedisStoreOptions {
  url: string;
  /** A command that gets no answer within this time fails (Redis paused or unreachable). */
  commandTimeoutMs?: number;
  onError?: (err: Error) => void;
}

export function redisStore({ url, commandTimeoutMs = 2000, onError }: RedisStoreOptions): Store {
  const client = createClient({
    url,
    // Fail at once while disconnected instead of queueing: callers decide what to do.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 500),
    },
  }).withCommandOptions({ timeout: commandTimeoutMs });
  client.on('error', (err: Error) => onError?.(err));
  // Connects in the background and keeps reconnecting; commands fail fast until it is up.
  client.connect().catch((err: Error) => onError?.(err));

  return {
    async recordWork(units, coins, report) {
      const multi = client.multi().incrBy(KEYS.hashes, units);
      for (const coin of coins) {
        multi.hSet(KEYS.wallet, coin.hex, coin.bytes);
        multi.lPush(KEYS.recentCoins, coin.hex);
      }
      if (coins.length > 0) multi.lTrim(KEYS.recentCoins, 0, RECENT_COINS - 1);
      multi.set(KEYS.workerPrefix + report.worker, JSON.stringify(report), { EX: REPORT_TTL_SECONDS });
      await multi.exec();
    },
    async readTotals() {
      const [coins, hashes] = await Promise.all([client.hLen(KEYS.wallet), client.get(KEYS.hashes)]);
      return { coins, hashes };
    },
    async readReports() {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${KEYS.workerPrefix}*`, COUNT: 500 })) {
        keys.push(...batch);
      }
      if (keys.length === 0) return [];
      const values = await client.mGet(keys);
      return values.flatMap((v) => (v ? [JSON.parse(v) as WorkerReport] : []));
    },
    async readRecentCoins() {
      return client.lRange(KEYS.recentCoins, 0, RECENT_COINS - 1);
    },
    async close() {
      if (client.isOpen) client.destroy();
    },
  };
}

/** The same store in this process's memory, for a local run with no Redis at hand. */
export function memoryStore(now: () => number = Date.now): Store {
  let hashes: number | null = null;
  const wallet = new Map<string, Buffer>();
  let recent: string[] = [];
  const reports = new Map<string, { report: WorkerReport; expires: number }>();

  return {
    async recordWork(units, coins, report) {
      hashes = (hashes ?? 0) + units;
      for (const coin of coins) wallet.set(coin.hex, coin.bytes);
      recent = [...coins.map((c) => c.hex).reverse(), ...recent].slice(0, RECENT_COINS);
      reports.set(report.worker, { report, expires: now() + REPORT_TTL_SECONDS * 1000 });
    },
    async readTotals() {
      return { coins: wallet.size, hashes: hashes === null ? null : String(hashes) };
    },
    async readReports() {
      const live = [...reports.entries()].filter(([, r]) => r.expires > now());
      for (const [worker, r] of reports) if (r.expires <= now()) reports.delete(worker);
      return live.map(([, r]) => r.report);
    },
    async readRecentCoins() {
      return recent;
    },
    async close() {},
  };
}
