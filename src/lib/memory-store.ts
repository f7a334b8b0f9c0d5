// The store of ./store.ts in this process's memory, for a local run with no Redis at hand.
import { RECENT_COINS, REPORT_TTL_SECONDS, type Store, type WorkerReport } from './store.js';

/** The same store in this process's memory, for a local run with no Redis at hand. */
export function memoryStore(now: () => number = Date.now): Store {
  let hashes: number | null = null;
  const wallet = new Map<string, Buffer>();
  let recent: string[] = [];
  const reports = new Map<string, { report: WorkerReport; expires: number }>();
  const applied = new Map<string, number>();

  return {
    async recordWork(units, coins, report, flush, sent) {
      sent?.();
      // FlushId's rule; nothing here can fail halfway.
      if ((applied.get(flush.writer) ?? 0) >= flush.seq) return;
      applied.set(flush.writer, flush.seq);
      hashes = (hashes ?? 0) + units;
      for (const coin of coins) wallet.set(coin.hex, coin.bytes);
      recent = [...coins.map((c) => c.hex).reverse(), ...recent].slice(0, RECENT_COINS);
      reports.set(flush.writer, { report, expires: now() + REPORT_TTL_SECONDS * 1000 });
    },
    async readTotals() {
      return { coins: wallet.size, hashes: hashes === null ? null : String(hashes) };
    },
    async readReports() {
      const live = [...reports.entries()].filter(([, r]) => r.expires > now());
      for (const [writer, r] of reports) if (r.expires <= now()) reports.delete(writer);
      return live.map(([, r]) => r.report);
    },
    async readRecentCoins() {
      return recent;
    },
    async ping() {},
    async close() {},
  };
}
