// The Swarm lab without a Swarm: its cheat sheet (the real CLI), its commands, and the small
// parsers. The runner's order, failure, Ctrl-C and clean-up are in lab-script.test.ts; the real
// thing runs in test/e2e/swarm.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { swarmScript } from '../../src/cli/lab/swarm-chapter.js';
import type { LabOptions } from '../../src/cli/lab/options.js';
import { isRunning, parseTasks, rateBetween, shellLine } from '../../src/cli/swarm.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { canReadWorkshop, dryRun as workshopDryRun, unmarked, workshopText } from '../helpers/workshop.js';

const options: LabOptions = {
  registry: '127.0.0.1:5000',
  tag: 'v1',
  redisImage: 'redis',
  registryImage: 'registry',
  rngPort: 8001,
  hasherPort: 8002,
  endpointMode: 'vip',
  port: 8000,
  context: '.',
  windowSeconds: 15,
  timeoutSeconds: 60,
  minGain: 1.5,
  keep: false,
};

const dryRun = (...args: string[]) => execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', 'swarm', '--dry-run', ...args], { env: { NODE_IMAGE: '', REDIS_IMAGE: '', REGISTRY_IMAGE: '' } });

test('--dry-run prints the chapter as a cheat sheet, in its order', async () => {
  const { stdout, exitCode } = await dryRun('--tag', 'v2', '--context', '.');
  assert.equal(exitCode, 0);
  const commands = stdout.split('\n').filter((line) => line.startsWith('docker '));
  const expected = [
    'docker node ls',
    'docker service create --detach --name registry --publish 5000:5000 registry',
    'docker build --target hasher -t dockercoins_hasher .',
    'docker tag dockercoins_hasher 127.0.0.1:5000/hasher:v2',
    'docker push 127.0.0.1:5000/hasher:v2',
  ];
  assert.deepEqual(commands.slice(0, 5), expected);
  const after = commands.slice(2 + 4 * 3);
  assert.deepEqual(after, [
    'docker network create --driver overlay dockercoins',
    'docker network ls',
    'docker service create --network dockercoins --detach --name redis redis',
    'docker service create --network dockercoins --detach=true --name hasher 127.0.0.1:5000/hasher:v2',
    'docker service create --network dockercoins --detach=true --name rng 127.0.0.1:5000/rng:v2',
    'docker service create --network dockercoins --detach=true --name webui 127.0.0.1:5000/webui:v2',
    'docker service create --network dockercoins --detach=true --name worker 127.0.0.1:5000/worker:v2',
    'docker service update webui --detach --publish-add 8000:80',
    'docker service ps webui',
    'docker service update worker --detach --replicas 10',
    'docker service rm rng',
    'docker service create --detach --name rng --network dockercoins --mode global 127.0.0.1:5000/rng:v2',
    'docker service rm redis hasher rng webui worker',
    'docker service rm registry',
    'docker network rm dockercoins',
  ]);
  assert.match(stdout, /measure: .*about 10\.0 \(the speed plateaus: one rng answers 10 requests\/s\)/);
});

test('--dry-run marks each departure from the workshop with its reason', async () => {
  const { stdout } = await dryRun('--endpoint-mode', 'dnsrr');
  const lines = stdout.split('\n');
  const reasonAfter = (command: string) => lines[lines.findIndex((l) => l.startsWith(command)) + 1] ?? '';
  assert.match(reasonAfter('docker push 127.0.0.1:5000/rng:v1'), /↑ departs from the workshop: .*:\$TAG.*only :latest/);
  assert.match(reasonAfter('docker service create --network dockercoins --detach=true --endpoint-mode dnsrr --name rng'), /departs from the workshop: dnsrr and host-mode ports.*no IPVS/);
  assert.match(reasonAfter('docker service update worker --detach --replicas 10'), /departs from the workshop: --detach/);
  // What the workshop types as it is: no mark.
  assert.doesNotMatch(reasonAfter('docker network create --driver overlay dockercoins'), /departs/);
  assert.match(stdout, /# \d+\. One worker\n# {4}measure: .*about 3\.3 \(one hash every 0\.3 s\)/);
  assert.match(stdout, /measure: one rng task per node; .*at least 2\.5× on 3 nodes/);
});

test('--dry-run: every command is on the chapter\'s pages as written, or marked as a departure', async (t) => {
  if (!canReadWorkshop(t)) return;
  const text = await workshopText(['ourapponswarm', 'hostingregistry', 'testingregistry', 'btp-manual'], { REGISTRY: '127.0.0.1:5000', TAG: 'v1' }, { name: 'SERVICE', values: ['hasher', 'rng', 'webui', 'worker'] });
  for (const mode of ['vip', 'dnsrr']) {
    const { commands } = await workshopDryRun('swarm', '--endpoint-mode', mode);
    assert.deepEqual(unmarked(commands, text), [], `endpoint mode ${mode}`);
    assert.ok(commands.filter((c) => !c.departure).length >= 8, 'most commands as the page has them');
  }
});

test('--dry-run --endpoint-mode dnsrr: DNS round robin and host-mode ports; --keep leaves the app', async () => {
  const { stdout } = await dryRun('--endpoint-mode', 'dnsrr', '--keep', '--redis-image', 'local/redis:7', '--node-image', 'local/node:24');
  assert.match(stdout, /docker service create --network dockercoins --detach --endpoint-mode dnsrr --name redis local\/redis:7/);
  assert.match(stdout, /--mode global --endpoint-mode dnsrr 127\.0\.0\.1:5000\/rng:v1/);
  assert.match(stdout, /--publish-add mode=host,published=8000,target=80/);
  assert.match(stdout, /--build-arg NODE_IMAGE=local\/node:24/);
  assert.doesNotMatch(stdout, /docker network rm/);
  assert.doesNotMatch(stdout, /8000:80/);
});

test('a bad option is refused with a reason', async () => {
  const result = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', 'swarm', '--endpoint-mode', 'ipvs'], { reject: false });
  assert.notEqual(result.exitCode, 0);
  assert.match(result.stderr, /--endpoint-mode.*ipvs.*vip, dnsrr/s);
});

test('the swarm chapter: the build loop uses the build engine, every other command the Swarm', () => {
  const steps = swarmScript({ ...options, buildHost: 'unix:///var/run/docker.sock' }).steps;
  const commands = (title?: string) => steps.filter((s) => (title ? s.title === title : true)).flatMap((s) => s.actions.flatMap((a) => (a.do === 'run' ? [a.command] : [])));
  const build = commands('Build, tag and push the images');
  assert.equal(build.length, 12);
  assert.ok(build.every((c) => c.build));
  assert.equal(commands().filter((c) => c.build).length, 12);
});

test('parseTasks and isRunning read `docker service ps`', () => {
  const tasks = parseTasks(
    'a1\twebui.1\tr/webui:v2\tnode1\tRunning\tRunning 6 seconds ago\t\n' +
      'b2\twebui.1\tr/webui:v1\tnode1\tShutdown\tShutdown 14 seconds ago\t\n' +
      'c3\trng.x\tr/rng:v1\tnode2\tRunning\tStarting 2 seconds ago\t\n' +
      'd4\thasher.1\tr/hasher:v0.3\tnode3\tShutdown\tFailed 3 seconds ago\ttask: non-zero exit (143): dockerexec: unhealthy container\n',
  );
  assert.deepEqual(
    tasks.map((t) => [t.id, t.image, t.node, isRunning(t), t.error]),
    [
      ['a1', 'r/webui:v2', 'node1', true, ''],
      ['b2', 'r/webui:v1', 'node1', false, ''],
      ['c3', 'r/rng:v1', 'node2', false, ''],
      ['d4', 'r/hasher:v0.3', 'node3', false, 'task: non-zero exit (143): dockerexec: unhealthy container'],
    ],
  );
});

test('rateBetween: hashes per second of the web UI clock', () => {
  assert.equal(rateBetween({ hashes: 100, coins: 0, now: 1000 }, { hashes: 250, coins: 0, now: 1015 }), 10);
});

test('shellLine quotes what the shell would split or expand', () => {
  assert.equal(shellLine(['service', 'ls', '--format', '{{.Name}}\t{{.Replicas}}']), "service ls --format '{{.Name}}\t{{.Replicas}}'");
  assert.equal(shellLine(['service', 'update', '--publish-add', 'mode=host,published=8000,target=80']), 'service update --publish-add mode=host,published=8000,target=80');
  assert.equal(shellLine(['it', "isn't"]), `it 'isn'\\''t'`);
});
