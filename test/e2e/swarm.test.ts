// npm run test:swarm — the stack file on a real 3-node Swarm (docker-in-docker nodes made by
// ../shared/tools/swarm-cluster.sh, with its registry on 127.0.0.1:5000): convergence; a CPU hog on every core of every node that must not get a healthy task killed;
// rolling updates of worker and hasher that lose no counted unit while the web UI keeps
// answering. Images are built on this machine's engine; the Swarm is node1's engine. The Swarm
// chapter itself runs in test:labs' `lab all`, on the same cluster.
// No IPVS here: services use dnsrr and host-mode ports (the lab's --endpoint-mode dnsrr and
// stacks/no-ipvs.yml). Set SWARM_KEEP=1 to leave the cluster up afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import {
  followDocker,
  measureRate,
  publishedUrl,
  readCounters,
  serviceTasks,
  waitForTasks,
  waitForUpdate,
} from '../../src/cli/swarm.js';
import { sleep } from '../../src/lib/sleep.js';
import { waitUntil } from '../../src/lib/wait.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { hostEngine, minutes, nodeCount, nodeHosts, registry, startCluster, stopCluster, swarm, swarmHost } from './cluster.js';

/** How long the CPU hog runs on every node. */
const HOG_SECONDS = 120;
const tag = 'v1';
const stack = 'dockercoins';
let redisImage = 'redis:7';

before(async () => {
  redisImage = await startCluster();
});

after(stopCluster);

test('the stack converges, no task is killed under a CPU hog on every node, and rolling updates of worker and hasher lose no unit', { timeout: minutes(15) }, async (t) => {
  const wait = { timeoutMs: minutes(5) };
  // The README's way: built on this machine's engine and pushed to the cluster's registry.
  const images = { cwd: root, env: { DOCKER_HOST: hostEngine, REGISTRY: registry, TAG: tag } };
  await execa('docker-compose', ['-f', 'stacks/dockercoins.yml', 'build'], images);
  await execa('docker-compose', ['-f', 'stacks/dockercoins.yml', 'push'], images);
  const deploy = await execa('docker', ['stack', 'deploy', '-c', 'stacks/dockercoins.yml', '-c', 'stacks/no-ipvs.yml', stack], {
    cwd: root,
    env: { DOCKER_HOST: swarmHost, REGISTRY: registry, TAG: tag, REDIS_IMAGE: redisImage },
  });
  t.after(async () => {
    await swarm(['stack', 'rm', stack]).catch(() => {});
  });
  assert.match(deploy.stdout, /Creating service dockercoins_worker/);

  const converged = Date.now();
  for (const [service, count] of [['redis', 1], ['hasher', 1], ['webui', 1], ['worker', 10]] as const)
    await waitForTasks(swarm, `${stack}_${service}`, count, wait);
  await waitForTasks(swarm, `${stack}_rng`, 3, { ...wait, perNode: true });
  console.log(`stack converged in ${((Date.now() - converged) / 1000).toFixed(0)} s`);

  const webui = await publishedUrl(swarm, `${stack}_webui`, 8000, 'host');
  const first = await waitUntil('the web UI', () => readCounters(webui), wait);
  await waitUntil('hashes to climb', async () => ((await readCounters(webui)).hashes > first.hashes ? true : undefined), wait);

  // Every core of every node busy for HOG_SECONDS: no task may be killed by a failed health
  // check (Swarm's ERROR column stays empty when a killed task exits 0, hence the engines'
  // events and the task IDs), and the rate must come back within a minute.
  await sleep(5000); // the workers settle after their start
  const before = await measureRate(webui, 15);
  const tasksBefore = await runningTaskIds();
  const health = nodeHosts.map(({ host }) => followHealthEvents(host));
  t.after(() => health.forEach((h) => h.stop()));
  console.log(`stack: ${before.rate.toFixed(1)} hashes/s; CPU hog on ${nodeCount} nodes for ${HOG_SECONDS} s`);
  await Promise.all(nodeHosts.map(({ container }) => hogCpu(container, HOG_SECONDS)));
  const hogEnd = await readCounters(webui);
  let recovered: { rate: number; after: number } | undefined;
  while (!recovered) {
    const { rate, last } = await measureRate(webui, 10);
    const after = last.now - hogEnd.now;
    if (rate >= 0.85 * before.rate) recovered = { rate, after };
    else assert.ok(after < 60, `the rate was still ${rate.toFixed(1)} hashes/s ${after.toFixed(0)} s after the hog (${before.rate.toFixed(1)} before)`);
  }
  health.forEach((h) => h.stop());
  const unhealthy = health.flatMap((h) => h.unhealthy);
  const tasksAfter = await runningTaskIds();
  const replaced = [...tasksBefore].filter((id) => !tasksAfter.has(id));
  console.log(`after the hog: ${recovered.rate.toFixed(1)} hashes/s within ${recovered.after.toFixed(0)} s; ${unhealthy.length} unhealthy event(s), ${replaced.length} task(s) replaced`);
  assert.deepEqual(unhealthy, [], 'no container turned unhealthy');
  assert.deepEqual(replaced, [], 'no task was replaced');

  // Every worker's last line ("worker stopped", with its units) is collected as it is written,
  // from each container's own log on its node: `docker service logs --follow` (the managers' log
  // broker) dropped a stopped task's last line in some runs, and Swarm deletes the containers of
  // scaled-down tasks, and their logs with them. Followed from here, after the hog: no worker has
  // stopped before (checked above).
  const stopped: { units: number; saved: number; notSaved: number; unknown: number }[] = [];
  /** Error lines (a shutdown over its deadline, above all): they say why a "worker stopped" line is missing. */
  const errors: string[] = [];
  const logs = followContainerLogs(`${stack}_worker`, (line) => {
    if (/"level":(50|60)/.test(line)) errors.push(line);
    if (line.includes('worker stopped')) stopped.push(JSON.parse(line) as (typeof stopped)[number]);
  });
  t.after(() => logs.stop());
  await logs.ready;

  // The web UI, polled every 500 ms through both updates.
  const polls = { ok: 0, failed: [] as string[] };
  let polling = true;
  t.after(() => (polling = false)); // also when an assertion fails: the test process must end
  const poller = (async () => {
    while (polling) {
      await readCounters(webui).then(
        () => polls.ok++,
        (err: Error) => polls.failed.push(err.message),
      );
      await sleep(500);
    }
  })();

  for (const service of ['worker', 'hasher']) {
    await swarm(['service', 'update', '--detach', '--force', `${stack}_${service}`]);
    await waitForUpdate(swarm, `${stack}_${service}`, { timeoutMs: minutes(6) });
    const replaced = (await serviceTasks(swarm, `${stack}_${service}`)).filter((task) => task.desired === 'Shutdown').length;
    // The update's duration by the manager's clock: from its start to its end, monitor included.
    const status = JSON.parse(await swarm(['service', 'inspect', `${stack}_${service}`, '--format', '{{json .UpdateStatus}}'])) as { StartedAt: string; CompletedAt: string };
    const seconds = (Date.parse(status.CompletedAt) - Date.parse(status.StartedAt)) / 1000;
    console.log(`rolling update of ${service}: ${replaced} task(s) replaced in ${seconds.toFixed(1)} s`);
    assert.ok(replaced >= 1, `the update of ${service} replaced its tasks`);
    if (service === 'worker') assert.ok(seconds <= 45, `the rolling update of 10 workers took ${seconds.toFixed(1)} s`);
  }
  // A stopped task's last line reaches its log a moment after Swarm reports the update done.
  await waitUntil('10 "worker stopped" lines', async () => (stopped.length >= 10 ? true : undefined), { timeoutMs: 30_000 }).catch(() => {});
  assert.equal(stopped.length, 10, `the 10 first workers stopped during the rolling update; error lines: ${errors.join('\n') || 'none'}`);

  // Stop every worker: then the counter must equal what they all say they did.
  await swarm(['service', 'scale', '--detach', `${stack}_worker=0`]);
  await waitUntil('20 "worker stopped" lines', async () => (stopped.length >= 20 ? true : undefined), { timeoutMs: minutes(2) });
  polling = false;
  await poller;
  const counted = (await readCounters(webui)).hashes;
  const reported = stopped.reduce((sum, s) => sum + s.units, 0);
  console.log(`${stopped.length} workers reported ${reported} units; Redis counted ${counted}; web UI: ${polls.ok} answers, ${polls.failed.length} failures`);
  assert.equal(stopped.length, 20);
  assert.deepEqual(stopped.filter((s) => s.notSaved + s.unknown > 0), [], 'no worker lost units');
  assert.equal(counted, reported, 'the counter equals the units the workers did');
  assert.deepEqual(polls.failed, [], 'the web UI answered throughout');
  assert.ok(polls.ok > 20);
});

/** IDs of the stack's running tasks, every service. */
async function runningTaskIds(): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const service of ['redis', 'rng', 'hasher', 'webui', 'worker'])
    for (const task of await serviceTasks(swarm, `${stack}_${service}`)) if (task.desired === 'Running') ids.add(task.id);
  return ids;
}

/** One busy loop per core of a node (a cluster container on this host), for `seconds`; bounded by `timeout` inside. */
async function hogCpu(container: string, seconds: number) {
  const script = `for i in $(seq $(nproc)); do timeout ${seconds} sh -c 'while :; do :; done' & done; wait`;
  await execa('docker', ['exec', container, 'sh', '-c', script], { timeout: (seconds + 30) * 1000, reject: false });
}

/**
 * Every line written by the containers of a service, on every node, from their start (or from now,
 * for those already running) to their exit: each node's engine reports the service's container
 * starts, and each container's log is followed there. `ready` resolves once the running ones are
 * followed.
 */
function followContainerLogs(service: string, onLine: (line: string) => void): { ready: Promise<void>; stop(): void } {
  const streams: { stop(): void }[] = [];
  const followed = new Set<string>();
  const label = `label=com.docker.swarm.service.name=${service}`;
  const follow = (host: string, id: string) => {
    if (followed.has(id)) return;
    followed.add(id);
    streams.push(followDocker(['logs', '--follow', id], onLine, host));
  };
  const ready = Promise.all(
    nodeHosts.map(async ({ host }) => {
      // Starts first, then the running ones: a container started in between is seen twice, followed once.
      streams.push(followDocker(['events', '--format', '{{.ID}}', '--filter', 'type=container', '--filter', 'event=start', '--filter', label], (id) => follow(host, id), host));
      const running = await execa('docker', ['ps', '-q', '--no-trunc', '--filter', label], { env: { DOCKER_HOST: host } });
      for (const id of running.stdout.split('\n').filter(Boolean)) follow(host, id);
    }),
  ).then(() => undefined);
  return { ready, stop: () => streams.forEach((s) => s.stop()) };
}

/** The `health_status: unhealthy` events of one node's engine, from now until stop(). */
function followHealthEvents(host: string): { unhealthy: string[]; stop(): void } {
  const unhealthy: string[] = [];
  const { stop } = followDocker(['events', '--format', '{{json .}}', '--filter', 'type=container'], (line) => {
    const e = JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } };
    if (e.Action.startsWith('health_status: unhealthy')) unhealthy.push(`${host} ${e.Actor.Attributes.name ?? '?'}`);
  }, host);
  return { unhealthy, stop };
}
