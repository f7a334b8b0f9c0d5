// npm run test:e2e — the workshop's Compose chapter on the real Docker engine: build the images
// (no HEALTHCHECK in any: the Compose file declares the checks; each serves on port 80 as user
// node where the runtime keeps ip_unprivileged_port_start=1024, and with every capability dropped),
// `up`, the counter climbs, scale the worker to 10 and see the single rng's plateau (~10
// hashes/s), every container with a health check healthy, the health check of the workshop's
// health-check chapter passing in every image, the build info in labels, logs and metrics, scale
// back to 1 without losing a counted unit, then stop each container and check it ends in under
// a second with the exit code it should: 143 for rng, hasher and webui (stopped by SIGTERM, which
// Swarm needs to count a task stopped by its health check as failed), 0 for the worker (all saved)
// and Redis.
// Images: NODE_IMAGE and REDIS_IMAGE when set (CI's local stand-ins), else the official ones.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { expectedPlateau } from '../../src/cli/lab/swarm-chapter.js';
import { dockerCli, measureRate, readCounters } from '../../src/cli/swarm.js';
import { buildInfoArgs, builtServices, composeStack, followEvents, inspectContainers, stopTimes, type ComposeStack } from '../../src/cli/compose.js';
import { sleep } from '../../src/lib/sleep.js';
import { waitUntil } from '../../src/lib/wait.js';
import type { LogLine } from '../helpers/processes.js';

const minutes = (n: number) => n * 60_000;
/** What `docker stop` may take on top of the container's own exit: the CLI and the engine. */
const STOP_SLACK_MS = 1000;
/** SIGTERM → exit when the scale-down stops 9 workers at once (see below). */
const SCALE_DOWN_STOP_MS = 5000;

let stack: ComposeStack;
let events: ReturnType<typeof followEvents>;
/** Every worker's log lines, followed until the container ends (scaled-down ones are removed). */
const workerLogs = new Map<string, Promise<string>>();

before(async () => {
  stack = await composeStack(`dockercoins-e2e-${process.pid}`);
  events = followEvents(stack.project);
  await stack.compose('build');
});

after(async () => {
  events?.stop();
  await stack?.down();
});

async function followWorkerLogs() {
  for (const id of await stack.containers('worker')) {
    if (!workerLogs.has(id)) workerLogs.set(id, execa('docker', ['logs', '--follow', id], { reject: false, timeout: minutes(5) }).then((r) => r.stdout));
  }
}

/** Every container healthy, but the workers: their image has no health check (see the Dockerfile). */
async function allHealthy(expected: number) {
  const states = await inspectContainers(await stack.containers());
  const unhealthy = states
    .filter((c) => (c.service === 'worker' ? c.health !== undefined : c.health !== 'healthy'))
    .map((c) => `${c.name}: ${c.health ?? 'no health check'}`);
  if (states.length === expected && unhealthy.length === 0) return states;
  throw new Error(`${states.length}/${expected} containers, not healthy: ${unhealthy.join(', ') || 'none'}`);
}

test('no image carries a health check: the Compose and stack files declare them', async () => {
  for (const service of builtServices) {
    const check = await dockerCli(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', `dockercoins_${service}`]);
    assert.equal(check.trim(), 'null', `dockercoins_${service}: ${check}`);
  }
});

/** The capability sets of a container's PID 1 (hex, /proc/1/status) and its uid. */
async function processCredentials(id: string): Promise<{ uid: string; effective: string }> {
  const status = (await execa('docker', ['exec', id, 'cat', '/proc/1/status'])).stdout;
  return { uid: /^Uid:\s+(\d+)/m.exec(status)![1]!, effective: /^CapEff:\s+(\w+)/m.exec(status)![1]! };
}

test('each image serves on port 80 as user node: where the runtime keeps unprivileged ports from 1024, and with every capability dropped', { timeout: minutes(3) }, async () => {
  const cases = [
    { name: 'ip_unprivileged_port_start=1024', args: ['--sysctl', 'net.ipv4.ip_unprivileged_port_start=1024'], portStart: '1024', capability: true },
    { name: '--cap-drop ALL', args: ['--cap-drop', 'ALL'], portStart: '0', capability: false },
  ];
  for (const service of builtServices) {
    for (const c of cases) {
      const id = (await execa('docker', ['run', '-d', '--rm', ...c.args, `dockercoins_${service}`])).stdout.trim();
      try {
        assert.equal((await execa('docker', ['exec', id, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).stdout.trim(), c.portStart);
        const answer = await waitUntil(`${service} (${c.name}) answering on port 80`, async () => {
          const probe = await execa('docker', ['exec', id, 'curl', '-fsS', '--max-time', '5', 'http://localhost:80/healthz'], { reject: false });
          return probe.exitCode === 0 ? probe.stdout : undefined;
        }, { timeoutMs: 30_000, everyMs: 300 });
        const { uid, effective } = await processCredentials(id);
        console.log(`${service}, ${c.name}: GET :80/healthz → ${answer.trim().slice(0, 40)}; PID 1 uid ${uid}, effective capabilities ${effective}`);
        assert.notEqual(uid, '0', `${service} runs as a user, not root`);
        // Only the one it needs, only where it needs it: CAP_NET_BIND_SERVICE is bit 10 (0x400).
        assert.equal(effective, c.capability ? '0000000000000400' : '0000000000000000', `${service}, ${c.name}: effective capabilities`);
      } finally {
        await execa('docker', ['rm', '-f', id], { reject: false });
      }
    }
  }
});

test('docker-compose up: the web UI answers and the hash counter climbs', { timeout: minutes(3) }, async () => {
  await stack.compose('up', '-d');
  const first = await waitUntil('GET /json with hashes counted', async () => {
    const c = await readCounters(stack.webui);
    return c.hashes > 0 ? c : undefined;
  }, { timeoutMs: minutes(1) });
  await waitUntil('the counter to climb', async () => ((await readCounters(stack.webui)).hashes > first.hashes ? true : undefined), { timeoutMs: 20_000 });
});

test('10 workers: the rate plateaus near 10 hashes/s and every container is healthy', { timeout: minutes(3) }, async () => {
  await stack.compose('up', '-d', '--scale', 'worker=10');
  await followWorkerLogs();
  assert.equal(workerLogs.size, 10);
  const states = await waitUntil('14 containers, the 4 with a health check healthy', () => allHealthy(14), { timeoutMs: minutes(1) });
  console.log(`healthy: ${states.map((c) => c.name).join(', ')}`);
  // Let the 9 new workers reach their pace, then measure over 15 s.
  await sleep(8000);
  const { rate, first, last } = await measureRate(stack.webui, 15);
  console.log(`plateau with 10 workers, 1 rng: ${rate.toFixed(2)} hashes/s (hashes ${first.hashes} → ${last.hashes} in ${(last.now - first.now).toFixed(1)} s)`);
  assert.ok(rate >= expectedPlateau * 0.8 && rate <= expectedPlateau * 1.15, `plateau ${rate.toFixed(2)} hashes/s, expected 8–11.5`);
});

test("the workshop's health check (`curl -f http://localhost/ || exit 1`) passes in every image", { timeout: minutes(1) }, async () => {
  for (const service of ['rng', 'hasher', 'webui', 'worker']) {
    const [id] = await stack.containers(service);
    // As Docker runs a CMD-SHELL check: /bin/sh -c in the container.
    const probe = await execa('docker', ['exec', id!, '/bin/sh', '-c', 'curl -f http://localhost/ || exit 1'], { reject: false });
    assert.equal(probe.exitCode, 0, `${service}: ${probe.stderr}`);
  }
});

test('each image carries its version and revision: labels, the log line once listening, dockercoins_build_info', { timeout: minutes(1) }, async () => {
  const { VERSION, REVISION } = await buildInfoArgs();
  for (const service of ['rng', 'hasher', 'webui', 'worker']) {
    const labels = JSON.parse(await dockerCli(['image', 'inspect', '--format', '{{json .Config.Labels}}', `dockercoins_${service}`])) as Record<string, string>;
    assert.equal(labels['org.opencontainers.image.version'], VERSION, service);
    assert.equal(labels['org.opencontainers.image.revision'], REVISION, service);
    const [id] = await stack.containers(service);
    const lines = (await execa('docker', ['logs', id!])).stdout.split('\n').map((l) => JSON.parse(l) as LogLine);
    const buildLine = lines.find((l) => l.version !== undefined)!;
    assert.equal(buildLine.msg, `${service} ${VERSION}, revision ${REVISION}`);
    const metrics = (await execa('docker', ['exec', id!, 'curl', '-fsS', 'http://localhost/metrics'])).stdout;
    assert.match(metrics, new RegExp(`^dockercoins_build_info\\{version="${VERSION}",revision="${REVISION}",service="${service}"`, 'm'));
  }
});

test('scale back to 1 worker, then stop every container: no unit lost, each ends in under a second with its exit code (143 stopped by SIGTERM; worker 0: all saved)', { timeout: minutes(3) }, async () => {
  await stack.compose('up', '-d', '--scale', 'worker=1');
  assert.equal((await stack.containers('worker')).length, 1);

  // One container at a time, timing docker stop; the worker first so that Redis is there for
  // its last flush, Redis last.
  const wallMs = new Map<string, number>();
  for (const service of ['worker', 'rng', 'hasher', 'webui', 'redis']) {
    for (const id of await stack.containers(service)) {
      const started = performance.now();
      await execa('docker', ['stop', id]);
      wallMs.set(id, performance.now() - started);
    }
    if (service === 'worker') {
      const stops = (await Promise.all(workerLogs.values())).map(workerShutdown);
      const counted = (await readCounters(stack.webui)).hashes;
      const units = stops.reduce((sum, s) => sum + s.units, 0);
      console.log(`workers' final lines: ${stops.map((s) => s.units).join(' + ')} = ${units} units; Redis hashes = ${counted}`);
      console.log(`workers' SIGTERM → "worker stopped", in the process: ${stops.map((s) => s.ms).join(', ')} ms`);
      assert.deepEqual(stops.filter((s) => s.lost !== 0), [], 'no worker lost units');
      assert.equal(counted, units, 'hashes in Redis = the units the 10 workers report');
      for (const s of stops) assert.ok(s.ms < 900, `a worker took ${s.ms} ms to flush and stop`);
    }
  }

  // The engine's events come a moment after the fact.
  const times = await waitUntil('a die event for each of the 14 containers', async () => {
    const t = stopTimes(events.events);
    return t.length >= 14 ? t : undefined;
  }, { timeoutMs: 10_000, everyMs: 200 });
  console.log(times.map((t) => {
    const wall = wallMs.get(t.id);
    return `${t.name}: SIGTERM → exit ${t.ms.toFixed(0)} ms, ${wall ? `docker stop ${wall.toFixed(0)} ms` : 'stopped by the scale-down'}, exit code ${t.exitCode}`;
  }).join('\n'));
  assert.equal(new Set(times.map((t) => t.id)).size, 14, 'each container stopped once');
  for (const t of times) {
    assert.equal(t.exitCode, ['rng', 'hasher', 'webui'].includes(t.service) ? 143 : 0, `${t.name} exit code`);
    const wall = wallMs.get(t.id);
    if (t.service === 'redis') continue;
    if (wall === undefined) {
      // The scale-down stops 9 containers at once: the engine tears them down one after the
      // other (up to ~2 s here on 2 cores), though each process ended within 900 ms (above).
      assert.ok(t.ms < SCALE_DOWN_STOP_MS, `${t.name}: ${t.ms.toFixed(0)} ms from SIGTERM to exit`);
    } else {
      assert.ok(t.ms < 1000, `${t.name}: ${t.ms.toFixed(0)} ms from SIGTERM to exit`);
      assert.ok(wall < 1000 + STOP_SLACK_MS, `docker stop ${t.name}: ${wall.toFixed(0)} ms`);
    }
  }
});

/** What a worker's log says about its end: units counted, not saved (surely or maybe), and the time from SIGTERM to its last line. */
function workerShutdown(stdout: string): { units: number; lost: number; ms: number } {
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine & { time: string });
  const signal = lines.find((l) => l.msg.startsWith('SIGTERM received'));
  const stopped = lines.findLast((l) => l.msg.startsWith('worker stopped'));
  assert.ok(signal && stopped, `a worker ended without its "SIGTERM received" and "worker stopped" lines: ${stdout.slice(-300)}`);
  return { units: Number(stopped.units), lost: Number(stopped.notSaved) + Number(stopped.unknown), ms: Date.parse(stopped.time) - Date.parse(signal.time) };
}
