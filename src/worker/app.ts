// The worker process: the loop, plus a small HTTP server for /, /healthz and /metrics.
import { Counter } from 'prom-client';
import * as z from 'zod';
import { httpUrl, millis, redisUrl, serverEnv } from '../lib/config.js';
import { createServer, type Service } from '../lib/server.js';
import { sleep } from '../lib/sleep.js';
import type { Store } from '../lib/store.js';
import { CONNECTION_MODES, Upstream } from './upstream.js';
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
    .enum(CONNECTION_MODES, { error: `expected one of ${CONNECTION_MODES.join(', ')}` })
    .default('balanced'),
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
  // GET / answers 200 as in every other image: the workshop's health check (`curl -f
  // http://localhost/`) is copied from service to service.
  service.app.get('/', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(`WORKER running on ${config.INSTANCE_NAME}\n`));
  const upstream = (name: string, urls: string) =>
    new Upstream({ name, urls, connections: config.UPSTREAM_CONNECTIONS, timeoutMs: config.CALL_TIMEOUT_MS, log: service.app.log });
  const rng = upstream('rng', config.RNG_URL);
  const hasher = upstream('hasher', config.HASHER_URL);
  // Counted by the upstreams (a metric update per call costs), read when scraped.
  const calls: Counter<'dependency' | 'family'> = new Counter({
    name: 'worker_calls_total',
    help: 'Calls to rng and hasher answered, by the address family used (4 or 6)',
    labelNames: ['dependency', 'family'] as const,
    registers: [service.metrics],
    collect() {
      calls.reset();
      for (const { name, callsByFamily } of [rng, hasher]) {
        for (const family of [4, 6] as const) calls.inc({ dependency: name, family }, callsByFamily[family]);
      }
    },
  });
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
