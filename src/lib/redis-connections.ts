// The store's connection to Redis: a client kept up in the background, replaced when Redis
// stalls, and a deadline on every operation.
import { ErrorReply, createClient } from '@redis/client';
import { ConfigError, withoutPassword } from './config.js';
import type { RedisStoreOptions } from './store.js';

/** The store's options, its deadline settled. */
type ConnectionOptions = RedisStoreOptions & { deadlineMs: number };

/** The operation got no answer in time; it may still be applied later. */
class StoreTimeoutError extends Error {
  override name = 'StoreTimeoutError';
}

/** A new connection was not up within the deadline: the operation was never sent. */
export class NotConnectedError extends Error {
  override name = 'NotConnectedError';
}

/** A client that connects in the background and keeps reconnecting, its failures told to the options' handlers. */
function connectRedis({ url, deadlineMs, onError, onFatal }: ConnectionOptions) {
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
  // Commands fail fast until it is up.
  redis.connect().catch(failed);
  return connection;
}

type Connection = ReturnType<typeof connectRedis>;
export type Redis = Connection['redis'];

/** The store's current connection, the ones it replaced after a stall, and the deadline over both. */
export class RedisConnections {
  private current: Connection;
  private closed = false;
  private closing!: (err: Error) => void;
  // An operation still waiting for a first connection ends when the store closes, not at its deadline.
  private readonly whenClosed = new Promise<never>((_, reject) => (this.closing = reject));
  /** Connections replaced after a timeout, until their last operation's deadline has passed. */
  private readonly retiring = new Set<Connection>();

  constructor(private readonly options: ConnectionOptions) {
    this.current = connectRedis(options);
    this.whenClosed.catch(() => {});
  }

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
  async withDeadline<T>(operation: (redis: Redis) => Promise<T>): Promise<T> {
    const used = this.current;
    const { deadlineMs } = this.options;
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
      return await Promise.race([answer, late, this.whenClosed]);
    } catch (err) {
      if (err instanceof StoreTimeoutError && used === this.current && !this.closed) this.replace(used);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.closed = true;
    this.closing(new NotConnectedError('the store is closed'));
    for (const used of [this.current, ...this.retiring]) if (used.redis.isOpen) used.redis.destroy();
    this.retiring.clear();
  }

  /** Takes a new connection; `used` is destroyed one deadline later, when its operations have all ended. */
  private replace(used: Connection): void {
    this.current = connectRedis(this.options);
    this.retiring.add(used);
    setTimeout(() => {
      this.retiring.delete(used);
      if (used.redis.isOpen) used.redis.destroy();
    }, this.options.deadlineMs).unref();
  }
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
