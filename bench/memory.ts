// Start-up time and idle memory: all five processes side by side with the workshop's default
// delays, the worker working at its workshop pace against this rng and hasher.
import { setTimeout as delay } from 'node:timers/promises';
import { memoryMB, start } from './processes.js';
import { median } from './report.js';

/**
 * Idle memory: the median of a sample a second from 25 to 35 s after start. V8 hands back the
 * garbage of start-up some 15-25 s after start (its memory reducer), not always at the same time.
 */
export const IDLE_FROM_SECONDS = 25;
export const IDLE_TO_SECONDS = 35;
const STARTS = 3;

export type Service = 'bare' | 'rng' | 'hasher' | 'worker' | 'webui';

export interface Footprint {
  /** Median of 3 starts. */
  startupMs: Record<Service, number>;
  startRssMB: Record<Service, number>;
  idleRssMB: Record<Service, number>;
  idlePrivateMB: Record<Service, number>;
}

export async function footprint(redisUrl: string): Promise<Footprint> {
  const startup: Record<string, number[]> = {};
  const result = { startRssMB: {}, idleRssMB: {}, idlePrivateMB: {} } as Omit<Footprint, 'startupMs'>;
  for (let i = 0; i < STARTS; i++) {
    const bare = await start('bare');
    const rng = await start('rng');
    const hasher = await start('hasher');
    const webui = await start('webui', { REDIS_URL: redisUrl });
    const worker = await start('worker', { REDIS_URL: redisUrl, RNG_URL: rng.url, HASHER_URL: hasher.url });
    const all = [bare, rng, hasher, webui, worker];
    for (const p of all) (startup[p.name] ??= []).push(p.startupMs);
    if (i === 0) {
      const started = performance.now();
      await delay(3000);
      for (const p of all) result.startRssMB[p.name as Service] = memoryMB(p);
      const rss = new Map(all.map((p) => [p, [] as number[]]));
      const anon = new Map(all.map((p) => [p, [] as number[]]));
      for (let at = IDLE_FROM_SECONDS; at <= IDLE_TO_SECONDS; at++) {
        await delay(at * 1000 - (performance.now() - started));
        for (const p of all) {
          rss.get(p)!.push(memoryMB(p));
          anon.get(p)!.push(memoryMB(p, 'RssAnon'));
        }
      }
      for (const p of all) {
        result.idleRssMB[p.name as Service] = median(rss.get(p)!);
        result.idlePrivateMB[p.name as Service] = median(anon.get(p)!);
      }
    }
    for (const p of all.reverse()) await p.stop();
  }
  const startupMs = Object.fromEntries(Object.entries(startup).map(([k, v]) => [k, median(v)])) as Record<Service, number>;
  return { startupMs, ...result };
}
