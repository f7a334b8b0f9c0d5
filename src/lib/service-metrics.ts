// What every service's /metrics holds: Node's own metrics, a histogram of the requests, and
// the build the instance runs.
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { queuedHistogram } from './histogram.js';

export interface BuildInfo {
  version: string;
  revision: string;
}

/** The image's version and git revision: its Dockerfile sets them from the build arguments. */
export function buildInfo(env: Record<string, string | undefined> = process.env): BuildInfo {
  return { version: env.DOCKERCOINS_VERSION || 'unknown', revision: env.DOCKERCOINS_REVISION || 'unknown' };
}

export type Observe = (method: string, route: string, status: number, seconds: number) => void;

/** The service's registry: Node's own metrics, the requests' histogram and the build's gauge. */
export function serviceMetrics(settings: { service: string; INSTANCE_NAME: string }, build: BuildInfo): { metrics: Registry; observe: Observe } {
  const metrics = new Registry();
  metrics.setDefaultLabels({ service: settings.service, instance: settings.INSTANCE_NAME });
  // The event loop's delay sampled every 100 ms, not prom-client's 10: each sample wakes the
  // process, and with 16 workers on 2 cores those wakeups slowed the whole pipeline (an A/B run:
  // bench/README.md). A stall still shows: it delays the sample it overlaps.
  collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: 100 });
  // One histogram: its _count is the number of requests by method, route and status (one
  // observation per request, queued: src/lib/histogram.ts).
  const latency = queuedHistogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [metrics],
  });
  // The usual *_build_info gauge: always 1, the labels are the information.
  new Gauge({ name: 'dockercoins_build_info', help: 'Version and git revision of this instance, always 1', labelNames: ['version', 'revision'], registers: [metrics] })
    .labels(build.version, build.revision)
    .set(1);
  const observe = (method: string, route: string, status: number, seconds: number) => latency.series(method, route, String(status))(seconds);
  return { metrics, observe };
}
