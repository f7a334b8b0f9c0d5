// One sampler per webui process: it reads the store twice a second, whatever the number of
// open pages, and hands each new dashboard to whoever listens (the event stream). It runs
// even with no page open: a few cheap reads a second, and a page that opens finds the last
// minutes of the chart already there.
//
// The hash counter is the ground truth for the total: every unit of work, from our workers
// or from workers that only INCRBY it (the original's), ends up there. Our workers' reports
// explain it (who, how fast, waiting on what), and what the counter gained beyond them is
// the work of workers that do not report. Each report is written with its units in one
// transaction, so over any window the two agree except for a flush landing between two
// reads of one sample; a median of three samples drops those.
import { describeError } from '../lib/errors.js';
import { WrongTypeError } from '../lib/key-types.js';
import type { Store, WorkerReport } from '../lib/store.js';
import {
  buildDashboard,
  LONG_WINDOW_MS,
  SHORT_WINDOW_MS,
  type Bottleneck,
  type CounterReset,
  type Dashboard,
  type SeenReport,
  sum,
  workerId,
} from './dashboard.js';

/** What the sampler reads. */
export type StoreReader = Pick<Store, 'readTotals' | 'readReports' | 'readRecentCoins'>;

export interface SamplerOptions {
  store: StoreReader;
  everyMs?: number;
  /** How much of the speed's history the chart keeps. */
  historyMs?: number;
  now?: () => number;
}

/** The chart's data, as uPlot takes it: unix seconds, and hashes/s (null where unknown: a gap). */
export type SpeedHistory = [number[], (number | null)[]];

/** The counter must have been watched this long before its rate is told (one flush a second moves it). */
export const WARMUP_MS = 5_000;
/** A bottleneck sentence appears, or goes, once its condition has held this long. */
export const HOLD_MS = 3_000;
/**
 * A report that starts this much after the previous one of its worker: one was overwritten
 * unseen (a sample came late). Longer gaps are a new process under the same name.
 */
const MISSED_GAP_MS = [250, 3000] as const;

export class Sampler {
  latest: Dashboard | undefined;
  readonly history: SpeedHistory = [[], []];
  /** The reports seen, by worker, oldest first: one worker's pace without reading every report. */
  private readonly seen = new Map<string, SeenReport[]>();
  private readonly lastReportAt = new Map<string, number>();
  private counter: { at: number; hashes: number }[] = [];
  /** The counter at the last sample that read it, kept through outages: a lower one is a reset. */
  private lastHashes: number | null = null;
  private reset: CounterReset | null = null;
  private residuals: number[] = [];
  private coinTimes = new Map<string, number | null>();
  private firstRead = true;
  private redis: Dashboard['redis'] = { downSince: null, lastGoodAt: null };
  private lastGoodAt: number | null = null;
  private readonly bottleneck = new SteadyBottleneck(HOLD_MS);
  private readonly listeners = new Set<(dashboard: Dashboard) => void>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = false;
  private readonly everyMs: number;
  private readonly historyMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SamplerOptions) {
    this.everyMs = options.everyMs ?? 500;
    this.historyMs = options.historyMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    const loop = async () => {
      const started = this.now();
      this.running = this.tick();
      await this.running;
      if (this.stopped) return;
      // A slow store delays the next read rather than piling reads up.
      this.timer = setTimeout(loop, Math.max(0, started + this.everyMs - this.now()));
      this.timer.unref();
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  onSample(listener: (dashboard: Dashboard) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reads the store once and publishes the new dashboard. */
  async tick(): Promise<Dashboard> {
    const now = this.now();
    let dashboard: Dashboard;
    try {
      const [totals, reports, recentCoins] = await Promise.all([
        this.options.store.readTotals(),
        this.options.store.readReports(),
        this.options.store.readRecentCoins(),
      ]);
      // While Redis answers, the figures are of the sample's time: nothing more to send.
      this.redis = { downSince: null, lastGoodAt: null };
      this.lastGoodAt = now;
      dashboard = this.sampled(now, Number(totals.hashes ?? 0), totals.coins, reports, recentCoins);
    } catch (err) {
      // What happened to the counter meanwhile is unknown (an empty Redis may be back): measure again.
      this.counter = [];
      this.residuals = [];
      if (err instanceof WrongTypeError) {
        // Redis answers: the sentence says which key to fix; no speed can be told meanwhile.
        this.redis = { downSince: null, lastGoodAt: null };
        const last = this.latest ?? this.sampled(now, null, 0, [], []);
        const text = `${err.message}: something other than DockerCoins wrote it, and the figures cannot be read until it is fixed.`;
        dashboard = { ...last, at: now, speed: null, unreported: null, redis: this.redis, status: { kind: 'bad-data', text } };
        this.record(now, null);
        this.publish(dashboard);
        return dashboard;
      }
      this.redis = { downSince: this.redis.downSince ?? now, lastGoodAt: this.lastGoodAt, error: `Redis is unavailable: ${describeError(err)}` };
      // The figures stay those of the last good sample, marked by `redis`; the chart gets a gap.
      const last = this.latest ?? this.sampled(now, null, 0, [], []);
      dashboard = { ...last, at: now, redis: this.redis, status: { kind: 'redis-down', text: '' } };
    }
    this.record(now, dashboard.redis.downSince === null ? dashboard.speed : null);
    this.publish(dashboard);
    return dashboard;
  }

  private publish(dashboard: Dashboard): void {
    this.latest = dashboard;
    for (const listener of this.listeners) listener(dashboard);
  }

  private sampled(now: number, hashes: number | null, coins: number, reports: WorkerReport[], recentCoins: string[]): Dashboard {
    for (const report of reports) this.see(report, now);
    this.forget(now - LONG_WINDOW_MS);
    const seen = [...this.seen.values()].flat();
    const counted = hashes === null ? null : this.counted(now, hashes, seen);
    const times = new Map(recentCoins.map((hex) => [hex, this.coinTimes.get(hex) ?? (this.firstRead ? null : now)]));
    this.coinTimes = times;
    this.firstRead = false;
    const window = this.counter;
    return buildDashboard({
      now,
      reports: seen,
      unreported: counted?.unreported ?? null,
      counterRate: counted?.counterRate ?? null,
      counterReset: this.reset && now - this.reset.at < this.historyMs ? this.reset : null,
      counterStill: window.length > 0 && window.at(-1)!.hashes === window[0]!.hashes,
      hashes,
      coins,
      recentCoins: [...times].map(([hex, at]) => ({ hex, at })),
      steadyBottleneck: (raw) => this.bottleneck.update(raw, now),
      redis: this.redis,
    });
  }

  /** Keeps a report the first time it is seen, and stands in for one overwritten unseen. */
  private see(report: WorkerReport, now: number): void {
    const id = workerId(report);
    let mine = this.seen.get(id);
    if (mine?.some((s) => s.report.at === report.at)) return;
    if (!mine) this.seen.set(id, (mine = []));
    const previous = this.lastReportAt.get(id);
    const start = report.at - report.intervalMs;
    const gap = previous === undefined ? 0 : start - previous;
    const seen: SeenReport = { seenAt: now, report };
    if (gap > MISSED_GAP_MS[0] && gap <= MISSED_GAP_MS[1]) {
      // Its units are in the counter: count them at this worker's recent pace.
      const recent = [...mine, seen];
      const pace = sum(recent, (s) => s.report.units) / Math.max(1, sum(recent, (s) => s.report.intervalMs));
      const missed = { worker: report.worker, process: report.process, at: start, intervalMs: gap, units: Math.round(pace * gap), rng: {}, hasher: {} };
      mine.push({ seenAt: now, report: missed, estimated: true });
    }
    // A last report: nothing more will come from this process.
    if (report.final) this.lastReportAt.delete(id);
    else this.lastReportAt.set(id, report.at);
    mine.push(seen);
  }

  /** Forgets the reports seen at `before` or earlier. */
  private forget(before: number): void {
    for (const [worker, mine] of this.seen) {
      // Oldest first: what is forgotten is at the front.
      const kept = mine.findIndex((s) => s.seenAt > before);
      if (kept === -1) {
        this.seen.delete(worker);
        this.lastReportAt.delete(worker);
      }
      else if (kept > 0) mine.splice(0, kept);
    }
  }

  /**
   * What the counter says: the hashes/s it gained beyond what the reports seen meanwhile account
   * for, and the most it gained per second over a window of SHORT_WINDOW_MS or more ending now
   * (the speed shown never exceeds it); null while measuring.
   */
  private counted(now: number, hashes: number, seen: readonly SeenReport[]): { unreported: number; counterRate: number } | null {
    // A counter that went down was reset (an empty Redis restarted, or another writer): said, and measured again from here.
    if (this.lastHashes !== null && hashes < this.lastHashes) {
      this.reset = { at: now, from: this.lastHashes, to: hashes };
      this.counter = [];
      this.residuals = [];
    }
    this.lastHashes = hashes;
    this.counter.push({ at: now, hashes });
    // Never a window longer than LONG_WINDOW_MS: after missed samples, a burst older than that would lift the speed.
    while (this.counter.length > 1 && this.counter[0]!.at < now - LONG_WINDOW_MS) this.counter.shift();
    const first = this.counter[0]!;
    const spanMs = now - first.at;
    if (spanMs < WARMUP_MS) return null;
    const windows = this.counter.filter((c) => c.at <= now - SHORT_WINDOW_MS);
    const counterRate = Math.max(...windows.map((c) => ((hashes - c.hashes) * 1000) / (now - c.at)));
    // A counter that stood still all along: nothing is working, whatever the samples before said.
    if (hashes === first.hashes) {
      this.residuals = [];
      return { unreported: 0, counterRate };
    }
    const within = seen.filter((s) => s.seenAt > first.at);
    const residual = hashes - first.hashes - sum(within, (s) => s.report.units);
    // A unit either way is the ends of the window, and each estimate may be a unit off: not a worker.
    const slack = 1 + within.filter((s) => s.estimated).length;
    this.residuals = [...this.residuals, residual > slack ? (residual * 1000) / spanMs : 0].slice(-3);
    return { unreported: [...this.residuals].sort((a, b) => a - b)[Math.floor(this.residuals.length / 2)]!, counterRate };
  }

  /** One point a second: the chart is 5 minutes wide. */
  private record(now: number, speed: number | null): void {
    const [times, speeds] = this.history;
    const second = Math.floor(now / 1000);
    if (times.length > 0 && Math.floor(times.at(-1)!) === second) return;
    times.push(Math.round(now / 100) / 10);
    speeds.push(speed);
    const expired = times.findIndex((t) => t >= (now - this.historyMs) / 1000);
    if (expired > 0) {
      times.splice(0, expired);
      speeds.splice(0, expired);
    }
  }
}

/**
 * The bottleneck sentence shown: a new one (or none) takes over once it has held for
 * `holdMs`, so that a scale change does not make it flicker; meanwhile the old one stays.
 */
export class SteadyBottleneck {
  private shown: Bottleneck | null = null;
  private candidate: { kind: Bottleneck['kind'] | null; since: number } | undefined;

  constructor(private readonly holdMs: number) {}

  update(current: Bottleneck | null, now: number): string | null {
    const kind = current?.kind ?? null;
    if (kind === (this.shown?.kind ?? null)) {
      this.candidate = undefined;
      this.shown = current;
    } else {
      if (this.candidate?.kind !== kind) this.candidate = { kind, since: now };
      if (now - this.candidate.since >= this.holdMs) {
        this.shown = current;
        this.candidate = undefined;
      }
    }
    return this.shown?.text ?? null;
  }
}
