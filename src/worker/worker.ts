// The worker's loop (the contract's): sleep, bytes from rng, their hash from hasher, a coin
// when the hash starts with 0; the count goes to the store once a second. Faults never kill
// it: it logs one line per failure streak, backs off (at most 1 s) and resumes by itself.
// Each flush is applied at most once (see FlushId), so a flush whose answer was lost is sent
// again as it was. On stop it abandons the unit in flight, saves what it has counted within a
// deadline, and says how many units were saved, not saved, or may have been; that line is its last.
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FastifyBaseLogger } from 'fastify';
import { queuedHistogram, type QueuedHistogram } from '../lib/histogram.js';
import { sleep } from '../lib/sleep.js';
import { mayHaveBeenApplied, type CallStats, type Coin, type FlushId, type Store, type WorkerReport } from '../lib/store.js';
import { randomBytes, sha256Hex } from './answers.js';
import { InstanceLabels } from './instances.js';
import { FailureStreaks, type Dependency } from './streaks.js';
import { Upstream, UpstreamError, type UpstreamResponse } from './upstream.js';

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

type Upstreams = 'rng' | 'hasher';

/** What the worker asks rng and hasher for, made once: a call per unit must not build it. */
const RANDOM_CALL = { expect: randomBytes(32) };

/** One flush: sent again unchanged until the store confirms it. */
interface Batch {
  flush: FlushId;
  units: number;
  coins: Coin[];
  report: WorkerReport;
  /** A send of it left for the store: if never confirmed, its outcome is unknown. */
  maybeApplied: boolean;
}

/** What the worker says when it stops: done = saved + notSaved + unknown. */
export interface WorkerSummary {
  units: number;
  saved: number;
  notSaved: number;
  /** Sent, but Redis did not answer: they may be counted or not. */
  unknown: number;
}

export class Worker {
  /** Units done since start (saved or not). */
  unitsDone = 0;
  /** Units the store has confirmed since start. */
  unitsSaved = 0;
  private readonly writer = randomUUID();
  private seq = 0;
  /** The batch being saved, or that failed to be: it goes first at the next flush. */
  private unconfirmed?: Batch;
  private finalSaved = false;
  /** The final line is out: nothing more is logged. */
  private finished = false;
  private pendingUnits = 0;
  private pendingCoins: Coin[] = [];
  /** Calls since the last flush, by dependency and instance (its report's statistics). */
  private callStats = newCallStats();
  private lastFlushAt = Date.now();
  private readonly streaks: FailureStreaks;
  private readonly stopping = new AbortController();
  private loopDone?: Promise<void>;
  private flushTimer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly coins: Counter;
  private readonly calls: QueuedHistogram<'dependency' | 'instance'>;
  private readonly instances: InstanceLabels;

  constructor(private readonly o: WorkerOptions) {
    const registers = [o.metrics];
    // Read from unitsDone at each scrape: an inc() per unit is a prom-client call per unit (src/lib/histogram.ts).
    let unitsCounted = 0;
    const units: Counter = new Counter({
      name: 'worker_units_total',
      help: 'Units of work done (one hash each)',
      registers,
      collect: () => {
        units.inc(this.unitsDone - unitsCounted);
        unitsCounted = this.unitsDone;
      },
    });
    this.coins = new Counter({ name: 'worker_coins_total', help: 'Coins found (hashes starting with 0)', registers });
    this.streaks = new FailureStreaks(o.log, registers, () => this.finished);
    this.calls = queuedHistogram({
      name: 'worker_call_duration_seconds',
      help: 'Duration of calls to rng and hasher, by the instance that answered',
      labelNames: ['dependency', 'instance'] as const,
      buckets: [0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.instances = new InstanceLabels({ onDrop: (dependency, instance) => this.calls.remove(dependency, instance) });
    const pending: Gauge = new Gauge({
      name: 'worker_pending_units',
      help: 'Units done but not yet written to the store',
      registers,
      collect: () => pending.set(this.pendingUnits + (this.unconfirmed?.units ?? 0)),
    });
  }

  start(): void {
    this.loopDone = this.loop();
    this.flushTimer = setInterval(() => void this.flush(), this.o.flushEveryMs);
  }

  /**
   * Abandons the unit in flight and saves what is counted, trying until `deadlineMs` whatever
   * Redis does; then logs the final line and returns it.
   */
  async stop(deadlineMs = 700): Promise<WorkerSummary> {
    const deadline = performance.now() + deadlineMs;
    const remaining = () => deadline - performance.now();
    this.stopping.abort();
    clearInterval(this.flushTimer);
    // Closing the upstreams fails the call in flight at once: its unit is abandoned.
    await Promise.race([Promise.all([this.o.rng.close(), this.o.hasher.close(), this.loopDone]), sleep(remaining())]);
    while (remaining() > 0) {
      await Promise.race([this.flush(true), sleep(remaining())]);
      if ((this.finalSaved && !this.unconfirmed && this.pendingUnits === 0) || remaining() < 100) break;
      await sleep(100);
    }
    const summary = this.summary();
    this.finished = true;
    if (summary.notSaved + summary.unknown === 0) this.o.log.info(summary, 'worker stopped');
    else this.o.log.error(summary, `worker stopped; ${unsavedText(summary)}`);
    return summary;
  }

  summary(): WorkerSummary {
    const unconfirmed = this.unconfirmed?.units ?? 0;
    const unknown = this.unconfirmed?.maybeApplied ? unconfirmed : 0;
    return { units: this.unitsDone, saved: this.unitsSaved, notSaved: this.pendingUnits + unconfirmed - unknown, unknown };
  }

  private async loop(): Promise<void> {
    const signal = this.stopping.signal;
    let backoffMs = 0;
    while (!signal.aborted) {
      const pause = backoffMs || this.o.workDelayMs;
      if (pause > 0) await sleep(pause, signal); // none at delay 0: an await per unit costs
      if (signal.aborted) break;
      try {
        // Each answer is checked as it is read: a wrong one fails its call, like a refused one.
        const random = this.answered('rng', await this.o.rng.call('/32', RANDOM_CALL));
        const digest = this.answered('hasher', await this.o.hasher.call('/', { method: 'POST', body: random.body, expect: sha256Hex }));
        if (signal.aborted) break; // abandoned: a unit counts only once it is whole
        const hex = digest.body.toString('utf8');
        this.pendingUnits += 1;
        this.unitsDone += 1;
        if (hex.startsWith('0')) {
          this.pendingCoins.push({ hex, bytes: random.body });
          this.coins.inc();
          this.o.log.info({ coin: hex }, `Coin found: ${hex.slice(0, 8)}...`);
        }
        backoffMs = 0;
      } catch (err) {
        if (signal.aborted) break;
        const dependency = err instanceof UpstreamError ? (err.dependency as Dependency) : 'rng';
        this.streaks.failed(dependency, err);
        backoffMs = Math.min(Math.max(backoffMs * 2, 100), this.o.maxBackoffMs);
      }
    }
  }

  /** Records a call's answer: which instance answered and how long it took. */
  private answered(dependency: Upstreams, response: UpstreamResponse): UpstreamResponse {
    this.streaks.recovered(dependency);
    const instance = this.instances.label(dependency, response.instance);
    const byInstance = this.callStats[dependency];
    let stats = byInstance.get(instance);
    if (!stats) byInstance.set(instance, (stats = { calls: 0, totalMs: 0, maxMs: 0 }));
    stats.calls += 1;
    stats.totalMs += response.ms;
    stats.maxMs = Math.max(stats.maxMs, response.ms);
    this.calls.series(dependency, instance)(response.ms / 1000);
    return response;
  }

  /** Saves the unconfirmed batch, then what is pending; on failure keeps them for the next flush. */
  private flush(final = false): Promise<void> {
    // One flush at a time: the timer and stop() may both ask.
    this.flushing ??= this.writePending(final).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async writePending(final: boolean): Promise<void> {
    if (this.unconfirmed && !(await this.save(this.unconfirmed))) return;
    const now = Date.now();
    const units = this.pendingUnits;
    const report: WorkerReport = {
      worker: this.o.name,
      process: this.writer,
      at: now,
      intervalMs: now - this.lastFlushAt,
      units,
      rng: Object.fromEntries(this.callStats.rng),
      hasher: Object.fromEntries(this.callStats.hasher),
      ...(final ? { final } : {}),
    };
    const batch: Batch = { flush: { writer: this.writer, seq: ++this.seq }, units, coins: this.pendingCoins, report, maybeApplied: false };
    this.pendingUnits = 0;
    this.pendingCoins = [];
    this.callStats = newCallStats();
    this.lastFlushAt = now;
    await this.save(batch);
  }

  /** Sends `batch`; true once the store has it (now or from an earlier send). */
  private async save(batch: Batch): Promise<boolean> {
    this.unconfirmed = batch;
    const sentBefore = batch.maybeApplied;
    try {
      // Unknown once sent, until the store says otherwise: stop() may not wait for the answer.
      // Once the final line is out, nothing leaves: it counted what was unsent as not saved.
      await this.o.store.recordWork(batch.units, batch.coins, batch.report, batch.flush, () => {
        if (this.finished) throw new Error('the worker has stopped: not sent');
        batch.maybeApplied = true;
      });
    } catch (err) {
      batch.maybeApplied = sentBefore || (batch.maybeApplied && mayHaveBeenApplied(err));
      this.streaks.failed('redis', err);
      return false;
    }
    this.unconfirmed = undefined;
    this.unitsSaved += batch.units;
    if (batch.report.final) this.finalSaved = true;
    this.streaks.recovered('redis');
    // The original's line; none when there is nothing to say (an outage of rng or hasher).
    if (batch.units > 0 && !this.finished) this.o.log.info({ units: batch.units }, `${batch.units} units of work done, updating hash counter`);
    return true;
  }
}

/** The final line's account of what is not in Redis, each part with its count. */
function unsavedText({ notSaved, unknown }: WorkerSummary): string {
  const parts = [];
  if (notSaved > 0) parts.push(`${notSaved} units were not saved (never sent to Redis, or refused by it)`);
  if (unknown > 0) parts.push(`${unknown} units were sent but Redis did not answer: they may or may not be counted`);
  return parts.join('; ');
}

const newCallStats = () => ({ rng: new Map<string, CallStats>(), hasher: new Map<string, CallStats>() });
