// The fidelity table: the workshop's rates with its default delays (100 ms each: the worker's
// sleep, rng's one-at-a-time answer, hasher's), on the real services as processes and a real
// Redis, beside the original stack's figures (contract.md, 60 s medians) and the theory. The
// three cases run side by side, each with its own rng and hasher: at ~35 calls/s in all they
// leave the CPU idle, and the rates are set by the delays.
import { setTimeout as delay } from 'node:timers/promises';
import { start, workerCounts, type Proc } from './processes.js';

export const WORKSHOP_SECONDS = Number(process.env.BENCH_WORKSHOP_SECONDS ?? 30);
/** After start, before counting: every worker has made its first calls. */
const SETTLE_SECONDS = 3;

/** The contract's cases (/work/shared/docs/contract.md, "Rates measured on the original"). */
const CASES = [
  // One worker: 0.1 s sleep + 0.1 s rng + 0.1 s hasher a unit.
  { workers: 1, rng: 1, original: 3.26, theory: 10 / 3 },
  // rng answers one request at a time, in 0.1 s: 10 a second, whatever the number of workers.
  { workers: 10, rng: 1, original: 9.73, theory: 10 },
  { workers: 10, rng: 2, original: 19.5, theory: 20 },
];

export interface WorkshopRow {
  workers: number;
  rng: number;
  /** Hashes per second, from the workers' own count of units (worker_units_total). */
  rate: number;
  original: number;
  theory: number;
  workerErrors: number;
}

export async function workshopRates(redisUrl: string): Promise<WorkshopRow[]> {
  const started: Proc[] = [];
  const begin = async (...args: Parameters<typeof start>) => {
    const proc = await start(...args);
    started.push(proc);
    return proc;
  };
  try {
    const cases = await Promise.all(
      CASES.map(async (c, index) => {
        const rngs = await Promise.all(Array.from({ length: c.rng }, () => begin('rng')));
        const hasher = await begin('hasher');
        const workers = await Promise.all(
          Array.from({ length: c.workers }, (_, i) =>
            begin('worker', {
              REDIS_URL: `${redisUrl}/${index + 1}`,
              RNG_URL: rngs.map((r) => r.url).join(','),
              HASHER_URL: hasher.url,
              INSTANCE_NAME: `workshop-${index + 1}-worker-${i + 1}`,
            }),
          ),
        );
        return { ...c, workers };
      }),
    );
    await delay(SETTLE_SECONDS * 1000);
    const before = await Promise.all(cases.map((c) => workerCounts(c.workers)));
    const from = performance.now();
    await delay(WORKSHOP_SECONDS * 1000);
    const after = await Promise.all(cases.map((c) => workerCounts(c.workers)));
    const seconds = (performance.now() - from) / 1000;
    return cases.map((c, i) => ({
      workers: c.workers.length,
      rng: c.rng,
      rate: (after[i]!.units - before[i]!.units) / seconds,
      original: c.original,
      theory: c.theory,
      workerErrors: after[i]!.errors,
    }));
  } finally {
    await Promise.all(started.map((p) => p.stop()));
  }
}
