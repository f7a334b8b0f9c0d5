// What health checking costs the host (bench/images.ts runs it): the Compose stack of
// HEALTH_CONTAINERS containers with its health checks and without (bench/no-healthcheck.yml), each
// for BENCH_HEALTH_SECONDS, the CPU of the engine, the shims (runc and the probes) and the
// services read from /proc.
import { sleep } from '../src/lib/sleep.js';
import { waitUntil } from '../src/lib/wait.js';
import { dockerCli, readCounters } from '../src/cli/swarm.js';
import { inspectContainers, type ComposeStack } from '../src/cli/compose.js';
import { dockerCpu, type CpuSample } from './docker-cpu.js';

export const HEALTH_SECONDS = Number(process.env.BENCH_HEALTH_SECONDS ?? 180);
/** The stack of the health-check measurement: redis, rng, hasher, webui and 11 workers. */
export const HEALTH_CONTAINERS = 15;
const SETTLE_SECONDS = 20;

export interface HealthChecks {
  seconds: number;
  containers: number;
  /** Each image's check interval in seconds (null: no check). */
  intervals: Record<string, number | null>;
  with: CpuSample;
  without: CpuSample;
}

export const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/**
 * The stack scaled to HEALTH_CONTAINERS and settled (its checks passed, or without checks its
 * counter climbing), then the host CPU it costs.
 */
export async function stackCpu(stack: ComposeStack, checked: boolean): Promise<CpuSample> {
  await stack.compose('up', '-d', '--scale', `worker=${HEALTH_CONTAINERS - 4}`);
  const ids = await stack.containers();
  if (ids.length !== HEALTH_CONTAINERS) throw new Error(`${ids.length} containers, expected ${HEALTH_CONTAINERS}`);
  const settled = checked
    ? async () => ((await inspectContainers(ids)).every((c) => c.health === undefined || c.health === 'healthy') ? true : undefined)
    : async () => ((await readCounters(stack.webui)).hashes > 0 ? true : undefined);
  await waitUntil(checked ? 'every health check passing' : 'the counter climbing', settled, { timeoutMs: 120_000 });
  await sleep(SETTLE_SECONDS * 1000);
  return dockerCpu(ids, HEALTH_SECONDS);
}

/** The health check interval of each service of a running Compose stack, seconds (null: no check): docker-compose.yml declares them, the images have none. */
export async function inspectHealthchecks(stack: ComposeStack): Promise<Record<string, number | null>> {
  // As JSON, the interval is in nanoseconds (the plain template prints a Go duration: "30s").
  const format = '{{index .Config.Labels "com.docker.compose.service"}}\t{{with .Config.Healthcheck}}{{json .Interval}}{{end}}';
  const out = await dockerCli(['inspect', '--format', format, ...(await stack.containers())]);
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [service = '', ns = ''] = line.split('\t');
        return [service, ns.trim() ? Number(ns) / 1e9 : null];
      }),
  );
}

/** The "Health checks" section of bench/README.md. */
export function renderHealth(h: HealthChecks, measured: string): string {
  // What health checking costs is what the engine and the shims spend on the probes: the main
  // processes do the same work either way (a probe's GET is a fraction of a millisecond), and their
  // run-to-run spread is larger than the probes' whole cost, so they are shown, not subtracted.
  const share = (seconds: number) => pct(seconds / h.seconds);
  const probes = (s: CpuSample) => s.engineSeconds + s.shimSeconds;
  const row = (name: string, s: CpuSample) => `| ${name} | ${share(probes(s))} | ${share(s.engineSeconds)} | ${share(s.shimSeconds)} | ${share(s.mainSeconds)} |`;
  const checked = Object.entries(h.intervals).map(([image, every]) => `${image} ${every === null ? 'none' : `every ${every} s`}`).join(', ');
  return [
    `${measured}.`,
    '',
    '| the stack (15 containers), share of one core | engine and shims | of which dockerd and containerd | of which the shims (runc, probes) | the services (main processes) |',
    '|---|---:|---:|---:|---:|',
    row('with its health checks', h.with),
    row('without (bench/no-healthcheck.yml)', h.without),
    `| **health checking** | **${share(probes(h.with) - probes(h.without))}** | ${share(h.with.engineSeconds - h.without.engineSeconds)} | ${share(h.with.shimSeconds - h.without.shimSeconds)} | |`,
    '',
    `The Compose stack with 11 workers (redis, rng, hasher, webui and 11 workers: ${h.containers} containers), each case for ${h.seconds} s (BENCH_HEALTH_SECONDS), one after the other, ${SETTLE_SECONDS} s after every check passed. Checks (docker-compose.yml): ${checked}. CPU from /proc: dockerd and containerd (shared with anything else using the engine), each container's shim with the processes it reaped (runc, the probes), and apart the containers' main processes, whose difference between the two runs is the services' own spread, not the checks'.`,
  ].join('\n');
}
