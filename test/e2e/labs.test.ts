// npm run test:labs — the workshop's chapters as `dockercoins lab` runs them: compose on this
// machine's engine, then stacks, update, netshoot, rolling, healthcheck and stateful on a
// 3-node docker-in-docker Swarm
// (../shared/tools/swarm-cluster.sh, its registry on 127.0.0.1:5000), one after the other on
// the same cluster as `lab all` does. The swarm chapter runs in swarm.test.ts. Images are
// built on this machine's engine. No IPVS here: --endpoint-mode dnsrr. SWARM_KEEP=1 leaves
// the cluster up afterwards.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import type { LabRun } from '../../src/cli/lab/runner.js';
import { dockerCli, existing } from '../../src/cli/swarm.js';
import { freePort } from '../../src/lib/redis-server.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { hostEngine, minutes, startCluster, stopCluster, swarm, swarmHost } from './cluster.js';

/** Each chapter's budget in CI (issue 15). */
const CHAPTER_MINUTES = 4;
const nodeImage = process.env.NODE_IMAGE ? ['--node-image', process.env.NODE_IMAGE] : [];
let redisImage = 'redis:7';

before(async () => {
  redisImage = await startCluster();
});

after(async () => {
  await swarm(['stack', 'rm', 'dockercoins', 'registry']).catch(() => {});
  await stopCluster();
});

/** Runs `dockercoins lab <chapter>` and returns its report, each step's figure printed. */
async function lab(chapter: string, args: string[], env: Record<string, string>): Promise<LabRun> {
  const report = path.join(await mkdtemp(path.join(tmpdir(), `dockercoins-lab-${chapter}-`)), 'report.json');
  const result = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', chapter, ...args, '--report', report], {
    env,
    reject: false,
    stdout: ['pipe', 'inherit'],
    stderr: ['pipe', 'inherit'],
    timeout: minutes(CHAPTER_MINUTES + 2),
  });
  const run = JSON.parse(await readFile(report, 'utf8')) as LabRun;
  assert.equal(result.exitCode, 0, `lab ${chapter} failed: ${run.reason}`);
  for (const r of run.results) assert.ok(r.ok, `${r.title}: ${r.figure}`);
  assert.equal(String(result.stdout).match(/✓/g)?.length, run.results.length, 'one ✓ line per step');
  console.log(`lab ${chapter}: ${run.seconds} s\n${run.results.map((r) => `  ${r.title} (${r.seconds} s): ${r.figure}`).join('\n')}`);
  assert.ok(run.seconds < CHAPTER_MINUTES * 60, `lab ${chapter} took ${run.seconds} s, more than ${CHAPTER_MINUTES} minutes`);
  return run;
}

const value = (run: LabRun, title: string, key: string) => run.results.find((r) => r.title === title)?.values?.[key];

test('lab compose on this engine: 1, 2 and 10 workers at the pages\' speeds, rng the bottleneck, nothing left', { timeout: minutes(8) }, async () => {
  const [port, rngPort, hasherPort] = [await freePort(), await freePort(), await freePort()];
  const run = await lab('compose', ['--port', String(port), '--rng-port', String(rngPort), '--hasher-port', String(hasherPort), '--redis-image', process.env.REDIS_IMAGE ?? 'redis', ...nodeImage], {});
  assert.deepEqual(
    run.results.map((r) => r.title),
    ['Start the app in the background', 'Its containers and logs', 'The web UI', 'Scale the workers to 2', 'Scale the workers to 10', 'Latency of rng and hasher', 'Remove the app'],
  );
  assert.ok(Number(value(run, 'Latency of rng and hasher', 'rngOneMs')) > 5 * Number(value(run, 'Latency of rng and hasher', 'hasherOneMs')));
  const left = await dockerCli(['ps', '-q', '--filter', `publish=${port}`]);
  assert.equal(left.trim(), '', 'no container left on the web UI port');
});

test('lab stacks then lab update on 3 nodes: rng global, 10 workers above the plateau; webui rolls to v0.2 and the page shows the change', { timeout: minutes(14) }, async () => {
  const args = ['--endpoint-mode', 'dnsrr', '--build-host', hostEngine, '--redis-image', redisImage, ...nodeImage];
  const stacks = await lab('stacks', args, { DOCKER_HOST: swarmHost });
  assert.equal(value(stacks, 'Deploy the app', 'rngTasks'), 3);
  assert.ok(Number(value(stacks, 'The speed', 'rate')) > 13);

  const update = await lab('update', args, { DOCKER_HOST: swarmHost });
  assert.match(String(value(update, 'Build, ship, and run', 'changed')), /webui/);
  assert.match(update.results.at(-1)!.figure, /speed axis in 50px \(was 16px\)/);
  assert.deepEqual(await existing(swarm, 'service', ['dockercoins_webui']), ['dockercoins_webui'], 'the app runs on for the next chapters');
});

// The chapters that operate the running app (issue 16), on the stack that stacks and update left.
const swarmArgs = () => ['--endpoint-mode', 'dnsrr', '--build-host', hostEngine, '--redis-image', redisImage, ...nodeImage];

test('lab netshoot: tasks.rng on every node; rng queues 50 requests at a time, hasher serves them together; the workers back', { timeout: minutes(6) }, async () => {
  const debianImage = process.env.DEBIAN_IMAGE ? ['--debian-image', process.env.DEBIAN_IMAGE] : [];
  const run = await lab('netshoot', [...swarmArgs(), ...debianImage], { DOCKER_HOST: swarmHost });
  assert.equal(value(run, 'Enter it, and look up the services', 'tasksRng'), 3);
  assert.ok(Number(value(run, 'Benchmark rng', 'growth')) > 5 * Number(value(run, 'Benchmark hasher', 'growth')), 'rng queues, hasher does not');
  assert.deepEqual(await existing(swarm, 'service', ['debug']), [], 'the debug service removed');
});

test('lab rolling: 7 hashers rolled to v0.1 with the web UI answering throughout, the policy changed, webui rolled back', { timeout: minutes(6) }, async () => {
  const run = await lab('rolling', swarmArgs(), { DOCKER_HOST: swarmHost });
  assert.equal(value(run, 'Roll hasher to another image', 'failures'), 0);
  assert.ok(Number(value(run, 'Roll hasher to another image', 'hashesAfter')) > Number(value(run, 'Roll hasher to another image', 'hashesBefore')));
});

test('lab healthcheck: a broken hasher (v0.3, port 81) fails its checks and Swarm rolls it back by itself, the counter never going down', { timeout: minutes(6) }, async () => {
  const run = await lab('healthcheck', swarmArgs(), { DOCKER_HOST: swarmHost });
  assert.ok(Number(value(run, 'Ship a broken hasher (v0.3: listens on 81)', 'rollbackSeconds')) > 0);
  assert.equal(value(run, 'Ship a broken hasher (v0.3: listens on 81)', 'failures'), 0, 'the web UI answered throughout');
  assert.ok(Number(value(run, 'After the rollback', 'unhealthyTasks')) >= 1, 'the broken tasks Failed as unhealthy');
});

test("lab stateful: the app's Redis pinned, on a volume, append-only: the counts survive an update and a kill", { timeout: minutes(6) }, async () => {
  const run = await lab('stateful', swarmArgs(), { DOCKER_HOST: swarmHost });
  assert.equal(value(run, 'The counts survive an update', 'lost'), 0);
  assert.ok(Number(value(run, 'The counts survive a kill', 'lostSeconds')) <= 1, 'at most the last second of work lost');
});
