// The worker's loop (the contract's): sleep, bytes from rng, their hash from hasher, a coin
// when the hash starts with 0; the count goes to the store once a second. Faults never kill
// it: it logs one line per failure streak, backs off (at most 1 s) and resumes by itself.
// On stop it abandons the unit in flight, flushes what it has counted, and returns.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { FastifyBaseLogger } from 'fastify';
import { sleep } from '../lib/sleep.js';
import type { CallStats, Coin, Store, WorkerReport } from '../lib/store.js';
import { describeError } from '../lib/errors.js';
import { Upstream, UpstreamError } from './upstream.js';

export interface WorkerOptions {
  name: string;
  rng: Upstream;
  hasher: Upstream;
  store: Store;
  log: FastifyBaseLogger;
  metrics: Registry;
  /** The contract's sleep before each unit. */
  workDelayMs: number;
  flushEveryMs: number;
  /** Longest pause after a failure. */
  maxBackoffMs: number;
}

type Dependency = 'rng' | 'hasher' | 'redis';

export class Worker {
  /** Units done since start (flushed or not). */
  unitsDone = 0;
  /** Units written to the store since start. */
  unitsFlushed = 0;
  private pendingUnits = 0;
  private pendingCoins: Coin[] = [];
  private callStats: { rng: Record<string, CallStats>; hasher: Record<string, CallStats> } = { rng: {}, hasher: {} };
  private lastFlushAt = Date.now();
  private readonly failing = new Map<Dependency, { since: number; count: number }>();
  private readonly stopping = new AbortController();
  private loopDone?: Promise<void>;
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly units: Counter;
  private readonly coins: Counter;
  private readonly errors: Counter<'dependency'>;
  private readonly calls: Histogram<'dependency' | 'instance'>;

  constructor(private readonly o: WorkerOptions) {
    const registers = [o.metrics];
    this.units = new Counter({ name: 'worker_units_total', help: 'Units of work done (one hash each)', registers });
    this.coins = new Counter({ name: 'worker_coins_total', help: 'Coins found (hashes starting with 0)', registers });
    this.errors = new Counter({
      name: 'worker_errors_total',
      help: 'Failed calls, by dependency',
      labelNames: ['dependency'] as const,
      registers,
    });
    this.calls = new Histogram({
      name: 'worker_call_duration_seconds',
      help: 'Duration of calls to rng and hasher, by the instance that answered',
      labelNames: ['dependency', 'instance'] as const,
      buckets: [0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    const pending: Gauge = new Gauge({
      name: 'worker_pending_units',
      help: 'Units done but not yet written to the store',
      registers,
      collect: () => pending.set(this.pendingUnits),
    });
    for (const dependency of ['rng', 'hasher', 'redis']) this.errors.inc({ dependency }, 0);
  }

  start(): void {
    this.loopDone = this.loop();
    this.flushTimer = setInterval(() => void this.flush(), this.o.flushEveryMs);
  }

  /** Abandons the unit in flight, flushes the count (retrying until `deadlineMs`), returns. */
  async stop(deadlineMs = 700): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    this.stopping.abort();
    clearInterval(this.flushTimer);
    // Closing the upstreams fails the call in flight at once: its unit is abandoned.
    await Promise.all([this.o.rng.close(), this.o.hasher.close()]);
    await this.loopDone;
    while (true) {
      await this.flush();
      if (this.pendingUnits === 0 || Date.now() + 100 > deadline) break;
      await sleep(100);
    }
    const lost = this.pendingUnits;
    const summary = { units: this.unitsDone, flushed: this.unitsFlushed, lost };
    if (lost > 0) this.o.log.error(summary, `worker stopped; ${lost} units could not be saved`);
    else this.o.log.info(summary, 'worker stopped');
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    let backoffMs = 0;
    while (!signal.aborted) {
      await sleep(backoffMs || this.o.workDelayMs, signal);
      if (signal.aborted) break;
      try {
        const random = await this.timed(this.o.rng, () => this.o.rng.call('/32'));
        const digest = await this.timed(this.o.hasher, () =>
          this.o.hasher.call('/', { method: 'POST', body: random.body }),
        );
        if (signal.aborted) break; // abandoned: a unit counts only once it is whole
        const hex = digest.body.toString('utf8');
        this.pendingUnits += 1;
        this.unitsDone += 1;
        this.units.inc();
        if (hex.startsWith('0')) {
          this.pendingCoins.push({ hex, bytes: random.body });
          this.coins.inc();
          this.o.log.info({ coin: hex }, `Coin found: ${hex.slice(0, 8)}...`);
        }
        backoffMs = 0;
      } catch (err) {
        if (signal.aborted) break;
        const dependency = err instanceof UpstreamError ? (err.dependency as Dependency) : 'rng';
        this.failed(dependency, err);
        backoffMs = Math.min(Math.max(backoffMs * 2, 100), this.o.maxBackoffMs);
      }
    }
  }

  /** Runs one call to an upstream, recording which instance answered and how long it took. */
  private async timed(upstream: Upstream, call: () => ReturnType<Upstream['call']>) {
    const response = await call();
    this.recovered(upstream.name as Dependency);
    const byInstance = this.callStats[upstream.name as 'rng' | 'hasher'];
    const stats = (byInstance[response.instance] ??= { calls: 0, totalMs: 0, maxMs: 0 });
    stats.calls += 1;
    stats.totalMs += response.ms;
    stats.maxMs = Math.max(stats.maxMs, response.ms);
    this.calls.observe({ dependency: upstream.name, instance: response.instance }, response.ms / 1000);
    return response;
  }

  /** Writes the pending count, coins and report; on failure keeps them for the next flush. */
  private flush(): Promise<void> {
    // One flush at a time: the timer and stop() may both ask.
    this.flushing ??= this.writePending().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async writePending(): Promise<void> {
    const units = this.pendingUnits;
    const coins = this.pendingCoins;
    const now = Date.now();
    const report: WorkerReport = {
      worker: this.o.name,
      at: now,
      intervalMs: now - this.lastFlushAt,
      units,
      ...this.callStats,
    };
    try {
      await this.o.store.recordWork(units, coins, report);
    } catch (err) {
      this.failed('redis', err);
      return;
    }
    this.recovered('redis');
    this.pendingUnits -= units;
    this.pendingCoins = this.pendingCoins.slice(coins.length);
    this.unitsFlushed += units;
    this.callStats = { rng: {}, hasher: {} };
    this.lastFlushAt = now;
    this.o.log.info({ units }, `${units} units of work done, updating hash counter`);
  }

  private failed(dependency: Dependency, err: unknown): void {
    this.errors.inc({ dependency });
    const streak = this.failing.get(dependency);
    if (streak) {
      streak.count += 1;
      return;
    }
    this.failing.set(dependency, { since: Date.now(), count: 1 });
    const message = err instanceof UpstreamError ? err.message : `${dependency}: ${describeError(err)}`;
    this.o.log.warn({ dependency }, `${message}; retrying (work is kept, nothing is lost)`);
  }

  private recovered(dependency: Dependency): void {
    const streak = this.failing.get(dependency);
    if (!streak) return;
    this.failing.delete(dependency);
    const seconds = ((Date.now() - streak.since) / 1000).toFixed(1);
    this.o.log.info({ dependency, failures: streak.count }, `${dependency} is back after ${streak.count} failures in ${seconds} s`);
  }
}
