// The worker process: the loop, plus a small HTTP server for /healthz and /metrics.
import * as z from 'zod';
import { httpUrl, millis, redisUrl, serverEnv } from '../lib/config.js';
import { createServer, type Service } from '../lib/server.js';
import { sleep } from '../lib/sleep.js';
import type { Store } from '../lib/store.js';
import { Upstream } from './upstream.js';
import { Worker, type WorkerSummary } from './worker.js';

export const workerEnv = {
  ...serverEnv,
  RNG_URL: httpUrl('http://rng'),
  HASHER_URL: httpUrl('http://hasher'),
  REDIS_URL: redisUrl,
  WORK_DELAY_MS: millis(100),
  CALL_TIMEOUT_MS: millis(5000).refine((n) => n >= 1, 'expected at least 1 ms'),
  FLUSH_INTERVAL_MS: millis(1000).refine((n) => n >= 10, 'expected at least 10 ms'),
  MAX_BACKOFF_MS: millis(1000).refine((n) => n <= 2000, 'expected at most 2000 ms'),
  UPSTREAM_CONNECTIONS: z
    .enum(['per-call', 'keep-alive'], { error: 'expected per-call or keep-alive' })
    .default('per-call'),
};
export type WorkerConfig = z.output<z.ZodObject<typeof workerEnv>>;

export interface WorkerService extends Service {
  worker: Worker;
  /** Stops the loop (closing the connections to rng and hasher), saves, closes the server and Redis. */
  stop(): Promise<WorkerSummary>;
}

export function buildWorker(config: WorkerConfig, store: Store): WorkerService {
  // Ready while Redis answers: without it no work is saved.
  const service = createServer({ service: 'worker', ...config, ready: () => store.ping() });
  const upstream = (name: string, urls: string) =>
    new Upstream({ name, urls, connections: config.UPSTREAM_CONNECTIONS, timeoutMs: config.CALL_TIMEOUT_MS });
  const rng = upstream('rng', config.RNG_URL);
  const hasher = upstream('hasher', config.HASHER_URL);
  const worker = new Worker({
    name: config.INSTANCE_NAME,
    rng,
    hasher,
    store,
    log: service.app.log,
    metrics: service.metrics,
    workDelayMs: config.WORK_DELAY_MS,
    flushEveryMs: config.FLUSH_INTERVAL_MS,
    maxBackoffMs: config.MAX_BACKOFF_MS,
  });
  return {
    ...service,
    worker,
    async stop() {
      service.notReady();
      const summary = await worker.stop();
      // Bounded: the process must exit within its shutdown deadline (src/lib/signals.ts).
      await Promise.race([Promise.all([service.app.close(), store.close()]), sleep(100)]);
      return summary;
    },
  };
}
