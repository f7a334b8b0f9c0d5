// npm run test:coach — `dockercoins lab swarm --coach` as an attendee uses it: the test types the
// Swarm chapter through the docker CLI (builds on this machine's engine, the rest on a 3-node
// docker-in-docker Swarm of its own, ./cluster.ts) while the coach runs as a child process, once
// cleanly and once with the attendees' mistakes (then corrected). Checked: every ✓ line and every
// hint the coach printed, and that the coach ran no command of the chapter: its `docker` is a
// wrapper on PATH that logs every command before running it, and each logged command must be a
// query. No IPVS here: --endpoint-mode dnsrr, host-mode ports.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { execa } from 'execa';
import { appServices } from '../../src/cli/lab/swarm-chapter.js';
import { dockerCli } from '../../src/cli/swarm.js';
import { freePort } from '../../src/lib/redis-server.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { waitUntil } from '../../src/lib/wait.js';
import { hostEngine, minutes, registry, startCluster, stopCluster, swarm, swarmHost } from './cluster.js';

/** Commands that only read, as the lab's guard allows them (checked here on its own terms). */
const queries = new Set(['service ls', 'service inspect', 'service ps', 'network ls', 'network inspect', 'node ls', 'node inspect', 'info', 'version']);
let redisImage = 'redis:7';
/** Tags of this run's own: a registry kept from an earlier run (SWARM_KEEP=1) already has its tags. */
const stamp = Date.now().toString(36);
const cleanTag = `c${stamp}`;
const mistakenTag = `m${stamp}`;
let wrapperDir = '';
let commandLog = '';

before(async () => {
  redisImage = await startCluster();
  wrapperDir = await mkdtemp(path.join(tmpdir(), 'dockercoins-coach-'));
  commandLog = path.join(wrapperDir, 'commands.log');
  const real = (await execa('sh', ['-c', 'command -v docker'])).stdout.trim();
  await writeFile(path.join(wrapperDir, 'docker'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${commandLog}'\nexec '${real}' "$@"\n`);
  await chmod(path.join(wrapperDir, 'docker'), 0o755);
});

after(async () => {
  await swarm(['service', 'rm', 'redis', ...appServices]).catch(() => {});
  await stopCluster();
});

/** The attendee's docker: on the Swarm, or (build, tag, push) on this machine's engine. */
const attendee = (...args: string[]) => swarm(args);
const onBuildEngine = (...args: string[]) => dockerCli(args, { host: hostEngine });

/** The coach as a child process, with the recording `docker` first on PATH; its stdout lines as they come. */
function startCoach(t: TestContext, tag: string, port: number) {
  const args = ['lab', 'swarm', '--coach', '--endpoint-mode', 'dnsrr', '--registry', registry, '--redis-image', redisImage, '--tag', tag, '--port', String(port), '--window', '10', '--idle', '30', '--build-host', hostEngine];
  const child = execa(process.execPath, [path.join(root, 'dist/cli.mjs'), ...args], { env: { DOCKER_HOST: swarmHost, PATH: `${wrapperDir}:${process.env.PATH}` }, reject: false, buffer: false, stderr: 'inherit' });
  // A failed test leaves no coach behind.
  t.after(() => void child.kill());
  const lines: string[] = [];
  child.stdout!.setEncoding('utf8');
  let partial = '';
  child.stdout!.on('data', (chunk: string) => {
    process.stdout.write(chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  /** The first line from `from` on that matches, once the coach printed it. */
  const line = (pattern: RegExp, timeoutMs = minutes(2)) =>
    waitUntil(`the coach to print ${pattern}`, () => lines.find((l) => pattern.test(l)), { timeoutMs, everyMs: 200 });
  return { child, lines, line };
}

async function buildAndPush(tag: string, order: readonly string[], latestOnly?: string) {
  const nodeImage = process.env.NODE_IMAGE ? ['--build-arg', `NODE_IMAGE=${process.env.NODE_IMAGE}`] : [];
  for (const s of order) {
    await onBuildEngine('build', '--target', s, ...nodeImage, '-t', `dockercoins_${s}`, root);
    if (s === latestOnly) {
      // The workshop's loop as typed before Docker 20.10: tagged, then pushed without the tag.
      await onBuildEngine('tag', `dockercoins_${s}`, `${registry}/${s}`);
      await onBuildEngine('push', `${registry}/${s}`);
    } else {
      await onBuildEngine('tag', `dockercoins_${s}`, `${registry}/${s}:${tag}`);
      await onBuildEngine('push', `${registry}/${s}:${tag}`);
    }
  }
}

const create = (name: string, image: string, ...more: string[]) => attendee('service', 'create', '--network', 'dockercoins', '--detach', '--endpoint-mode', 'dnsrr', '--name', name, ...more, image);
const publish = (port: number) => `mode=host,published=${port},target=80`;

/** The chapter's end as the page types it; `network rm` waits for the removed tasks to let go. */
async function removeEverything() {
  await attendee('service', 'rm', 'redis', ...appServices);
  await waitUntil('the dockercoins network removed', () => attendee('network', 'rm', 'dockercoins').then(() => true), { timeoutMs: minutes(1) });
}

/** Every command the coach's docker ran, and those of them that were not queries. */
async function coachCommands() {
  const logged = (await readFile(commandLog, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const changes = logged.filter((l) => !queries.has(l.split(' ').filter((w) => !w.startsWith('-')).slice(0, l.startsWith('info') || l.startsWith('version') ? 1 : 2).join(' ')));
  return { logged, changes };
}

const stepLines = {
  swarm: /^✓ The Swarm: 3 nodes Ready$/,
  registry: new RegExp(`^✓ A registry: ${registry} answers \\(already: no service created\\)$`),
  network: /^✓ An overlay network: dockercoins: scope swarm, driver overlay$/,
  redis: /^✓ The redis service: done$/,
  services: /^✓ The other services: done$/,
  whatHappened: /^✓ What happened to webui: task \w{12} shut down, replaced by \w{12} running on \S+$/,
  webui: /^✓ The web UI: http:\/\/\S+\/json answers: \d+ hashes, climbing$/,
  oneWorker: /^✓ One worker: 1 worker: \d+\.\d hashes\/s over 10 s$/,
  scaled: /^✓ Scale the workers: 10\/10 workers: \d+\.\d hashes\/s over 10 s$/,
  global: /^✓ rng in global mode: 3 rng tasks on 3 nodes: \d+\.\d hashes\/s.*×/,
};
const images = (tag: string) => new RegExp(`^✓ Build, tag and push the images: ${appServices.map((s) => `${registry}/${s}:${tag}`.replaceAll('.', '\\.')).join('; ')}$`);
const published = (port: number) => new RegExp(`^✓ Publish the web UI: webui publishes ${port} \\(host mode\\)$`);

test('the coach, cleanly: each step ticked as the attendee reaches it, the figures as the lab prints them, no command of its own', { timeout: minutes(6) }, async (t) => {
  await writeFile(commandLog, '');
  const port = await freePort();
  const coach = startCoach(t, cleanTag, port);
  await coach.line(stepLines.swarm);
  await coach.line(stepLines.registry);
  // In the reverse of the page's order: the coach ticks them as they arrive.
  await buildAndPush(cleanTag, [...appServices].reverse());
  await coach.line(images(cleanTag));
  for (const s of appServices) assert.ok(coach.lines.includes(`  · ${registry}/${s}:${cleanTag}`), `${s}:${cleanTag} ticked on its own`);
  await attendee('network', 'create', '--driver', 'overlay', 'dockercoins');
  await coach.line(stepLines.network);
  await create('redis', redisImage);
  await coach.line(stepLines.redis);
  for (const s of [...appServices].reverse()) await create(s, `${registry}/${s}:${cleanTag}`);
  await coach.line(stepLines.services);
  await attendee('service', 'update', 'webui', '--detach', '--publish-add', publish(port));
  await coach.line(published(port));
  await coach.line(stepLines.whatHappened);
  await coach.line(stepLines.webui);
  await coach.line(stepLines.oneWorker);
  await attendee('service', 'update', 'worker', '--detach', '--replicas', '10');
  await coach.line(stepLines.scaled);
  await coach.line(/^ℹ 10 workers and still \d+\.\d hashes\/s: not a mistake\. One rng answers 10 requests\/s/);
  await attendee('service', 'rm', 'rng');
  await attendee('service', 'create', '--detach', '--name', 'rng', '--network', 'dockercoins', '--mode', 'global', '--endpoint-mode', 'dnsrr', `${registry}/rng:${cleanTag}`);
  await coach.line(stepLines.global);
  await removeEverything();
  await coach.line(/^✓ Remove everything: removed redis, hasher, rng, webui, worker and the dockercoins network$/);
  const { exitCode } = await coach.child;
  assert.equal(exitCode, 0);
  await coach.line(/^The Swarm chapter done in \d+ min \d+ s: 13 of 13 steps done\.$/, 1000);
  assert.deepEqual(coach.lines.filter((l) => l.startsWith('⚠')), [], 'no mistake said on a clean run');
  const { logged, changes } = await coachCommands();
  assert.ok(logged.length > 0, "the coach's docker commands went through the recording wrapper");
  assert.deepEqual(changes, [], 'the coach ran only queries');
});

test('the coach, with the mistakes attendees make: each said in its own words, each corrected, then ticked; Ctrl-C sums up', { timeout: minutes(7) }, async (t) => {
  await writeFile(commandLog, '');
  const port = await freePort();
  const coach = startCoach(t, mistakenTag, port);
  await coach.line(stepLines.registry);
  await buildAndPush(mistakenTag, ['hasher', 'rng', 'webui', 'worker'], 'worker');
  await coach.line(new RegExp(`^⚠ ${registry} has worker:latest but not :${mistakenTag}: \`docker push \\$REGISTRY/\\$SERVICE\` without the tag pushes only :latest`));
  await attendee('network', 'create', 'dockercoins');
  await coach.line(/^⚠ the dockercoins network is a local bridge network \(created without --driver overlay\): services cannot use it\.$/);
  await attendee('network', 'rm', 'dockercoins');
  await attendee('network', 'create', '--driver', 'overlay', 'dockercoins');
  await create('redis', redisImage);
  await create('worker', `${registry}/worker:${mistakenTag}`);
  await coach.line(new RegExp(`^⚠ worker: no task runs, ${registry} does not have worker:${mistakenTag}`));
  await buildAndPush(mistakenTag, ['worker']);
  await coach.line(images(mistakenTag));
  await coach.line(stepLines.network);
  await coach.line(stepLines.redis);
  for (const s of ['hasher', 'rng', 'webui']) await create(s, `${registry}/${s}:${mistakenTag}`);
  await coach.line(stepLines.services);
  // Straight on to the workers, the web UI unpublished; then published on another port.
  await attendee('service', 'update', 'worker', '--detach', '--replicas', '2');
  await coach.line(/^⚠ webui runs but publishes no port: its page and \/json cannot be reached/);
  const other = await freePort();
  await attendee('service', 'update', 'webui', '--detach', '--publish-add', publish(other));
  await coach.line(new RegExp(`^⚠ webui publishes ${other}/host, not ${port}`));
  await coach.line(new RegExp(`^  Publish ${port} \\(docker service update webui --publish-rm mode=host,published=${other},target=80 --publish-add`));
  await attendee('service', 'update', 'webui', '--detach', '--publish-rm', publish(other), '--publish-add', publish(port));
  await attendee('service', 'update', 'worker', '--detach', '--replicas', '1');
  await coach.line(published(port));
  await coach.line(stepLines.whatHappened);
  await coach.line(stepLines.oneWorker);
  await attendee('service', 'update', 'worker', '--detach', '--replicas', '10');
  await coach.line(stepLines.scaled);
  await attendee('service', 'scale', '--detach', 'rng=3');
  await coach.line(/^⚠ rng is scaled to 3 replicas: the chapter makes it global/);
  await attendee('service', 'rm', 'rng');
  await attendee('service', 'create', '--detach', '--name', 'rng', '--network', 'dockercoins', '--mode', 'global', '--endpoint-mode', 'dnsrr', `${registry}/rng:${mistakenTag}`);
  await coach.line(stepLines.global);
  coach.child.kill('SIGINT');
  const { exitCode } = await coach.child;
  assert.equal(exitCode, 130);
  await coach.line(/^Coach stopped \(Ctrl-C\) after \d+ min \d+ s: 12 of 13 steps done\.$/, 1000);
  assert.ok(coach.lines.includes('  next: 13. Remove everything'));
  assert.equal(coach.lines.filter((l) => l.startsWith('⚠')).length, 6, 'each mistake said once');
  const { logged, changes } = await coachCommands();
  assert.ok(logged.length > 0);
  assert.deepEqual(changes, [], 'the coach ran only queries');
  await removeEverything();
});
