// One sampler per webui process: it reads the store twice a second, whatever the number of
// open pages, and hands each new dashboard to whoever listens (the event stream). It runs
// even with no page open: two cheap reads a second, and a page that opens finds the last
// minutes of the chart already there.
import { describeError } from '../lib/errors.js';
import type { Store } from '../lib/store.js';
import { buildDashboard, LONG_WINDOW_MS, type Dashboard, type SeenReport } from './dashboard.js';

export interface SamplerOptions {
  store: Store;
  everyMs?: number;
  /** How much of the speed's history the chart keeps. */
  historyMs?: number;
  now?: () => number;
}

/** The chart's data, as uPlot takes it: unix seconds, and hashes/s (null where unknown). */
export type SpeedHistory = [number[], (number | null)[]];

export class Sampler {
  latest: Dashboard | undefined;
  readonly history: SpeedHistory = [[], []];
  private hashes: number | null = null;
  private readonly seen = new Map<string, SeenReport>();
  private coins = 0;
  private recentCoins: string[] = [];
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
    let error: string | undefined;
    try {
      const [totals, reports, recentCoins] = await Promise.all([
        this.options.store.readTotals(),
        this.options.store.readReports(),
        this.options.store.readRecentCoins(),
      ]);
      this.hashes = totals.hashes === null ? null : Number(totals.hashes);
      for (const report of reports) {
        const key = `${report.worker}@${report.at}`;
        if (!this.seen.has(key)) this.seen.set(key, { seenAt: now, report });
      }
      this.coins = totals.coins;
      this.recentCoins = recentCoins;
    } catch (err) {
      error = `Redis is unavailable: ${describeError(err)}`;
    }
    for (const [key, seen] of this.seen) if (seen.seenAt <= now - LONG_WINDOW_MS) this.seen.delete(key);

    const dashboard = buildDashboard({
      now,
      hashes: this.hashes,
      reports: [...this.seen.values()],
      coins: this.coins,
      recentCoins: this.recentCoins,
      error,
    });
    this.record(now, dashboard.speed);
    this.latest = dashboard;
    for (const listener of this.listeners) listener(dashboard);
    return dashboard;
  }

  private record(now: number, speed: number | null): void {
    const [times, speeds] = this.history;
    times.push(now / 1000);
    speeds.push(speed);
    const expired = times.findIndex((t) => t >= (now - this.historyMs) / 1000);
    if (expired > 0) {
      times.splice(0, expired);
      speeds.splice(0, expired);
    }
  }
}
