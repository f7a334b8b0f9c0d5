// The chapters that operate the running app (netshoot, rolling, stateful) without
// a Swarm: each one's cheat sheet from the real CLI pins its commands against the workshop's
// pages; ab's output as netshoot reads it; what a failed chapter undoes (recorded fake docker).
// The real runs are in test/e2e/labs.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { parseAb } from '../../src/cli/lab/netshoot-chapter.js';
import { newAppState, undoAll, type AppLabOptions, type AppStepContext } from '../../src/cli/lab/app-state.js';
import type { Docker } from '../../src/cli/swarm.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';

const dryRun = async (chapter: string, ...args: string[]) => {
  const { stdout, exitCode } = await execa(process.execPath, [path.join(root, 'dist/cli.mjs'), 'lab', chapter, '--dry-run', ...args], { env: { NODE_IMAGE: '', DEBIAN_IMAGE: '' } });
  assert.equal(exitCode, 0);
  return { stdout, commands: stdout.split('\n').filter((line) => /^(CID=\$\()?([A-Z_]+=\S+ )*docker /.test(line)) };
};

const appFirst = [
  'REGISTRY=127.0.0.1:5000 TAG=v1 REDIS_IMAGE=redis docker stack deploy -c stacks/dockercoins.yml dockercoins',
  'docker stack services dockercoins',
];

test('netshoot: a debug container on the stack network, drill, ab at c=1 and c=50 with the workers at 0, then back', async () => {
  const { stdout, commands } = await dryRun('netshoot', '--context', '.');
  assert.deepEqual(commands, [
    ...appFirst,
    'docker build -t 127.0.0.1:5000/netshoot:v1 -f stacks/netshoot.Dockerfile stacks',
    'docker push 127.0.0.1:5000/netshoot:v1',
    'docker service create --detach --network dockercoins_default --name debug --constraint node.hostname==$HOSTNAME 127.0.0.1:5000/netshoot:v1 sleep 1000000000',
    'CID=$(docker ps -q --filter label=com.docker.swarm.service.name=debug)',
    'docker exec $CID drill rng',
    'docker exec $CID drill tasks.rng',
    'docker exec $CID drill tasks.hasher',
    'docker exec $CID curl -fsS rng',
    'docker service update dockercoins_worker --replicas 0 --detach',
    'docker exec $CID ab -c 1 -n 50 http://rng/10',
    'docker exec $CID ab -c 50 -n 50 http://rng/10',
    "docker exec $CID sh -c 'curl -fsS http://rng/10 >/tmp/random'",
    'docker exec $CID ab -c 1 -n 50 -T application/octet-stream -p /tmp/random http://hasher/',
    'docker exec $CID ab -c 50 -n 50 -T application/octet-stream -p /tmp/random http://hasher/',
    'docker service update dockercoins_worker --replicas $WORKERS --detach',
    'docker service rm debug',
  ]);
  assert.match(stdout, /netshoot.Dockerfile stacks\n# +↑ departs from the workshop: not in the workshop, which runs alpine/);
});

test('netshoot --endpoint-mode dnsrr: the no-IPVS override; --debian-image is the debug image base', async () => {
  const { commands } = await dryRun('netshoot', '--endpoint-mode', 'dnsrr', '--debian-image', 'local/debian:bookworm', '--redis-image', 'r:7');
  assert.equal(commands[0], 'REGISTRY=127.0.0.1:5000 TAG=v1 REDIS_IMAGE=r:7 docker stack deploy -c stacks/dockercoins.yml -c stacks/no-ipvs.yml dockercoins');
  assert.match(commands[2]!, /^docker build --build-arg DEBIAN_IMAGE=local\/debian:bookworm /);
});

test('rolling: hasher to 7, rolled to v0.1, parallelism 2 and max failure ratio .25, webui rolled back', async () => {
  const { stdout, commands } = await dryRun('rolling', '--context', '.');
  assert.deepEqual(commands, [
    ...appFirst,
    'docker service update --detach --health-interval 5s --health-start-period 5s dockercoins_hasher',
    'docker service scale --detach dockercoins_hasher=7',
    'docker build --target hasher --build-arg VERSION=v0.1 -t 127.0.0.1:5000/hasher:v0.1 .',
    'docker push 127.0.0.1:5000/hasher:v0.1',
    'docker service update --detach --image 127.0.0.1:5000/hasher:v0.1 dockercoins_hasher',
    'docker service update --detach --update-parallelism 2 --update-max-failure-ratio .25 dockercoins_hasher',
    'docker service rollback --detach dockercoins_webui',
  ]);
  assert.match(stdout, /--health-interval 5s.*\n# +↑ departs from the workshop: not in the workshop: our images check their health every 30 s/);
});

test("stateful: the app's Redis pinned, on a volume with an append-only file, updated with --force and killed", async () => {
  const { stdout, commands } = await dryRun('stateful', '--context', '.');
  assert.deepEqual(commands, [
    ...appFirst,
    'docker service update --detach dockercoins_redis --constraint-add node.hostname==$HOSTNAME',
    'docker service ps dockercoins_redis',
    "docker service update --detach dockercoins_redis --mount-add type=volume,source=dockercoins-redis,target=/data --args 'redis-server --appendonly yes'",
    'docker volume ls',
    'docker service update --detach --force dockercoins_redis',
    'CID=$(docker ps -q --filter label=com.docker.swarm.service.name=dockercoins_redis)',
    'docker kill $CID',
  ]);
  assert.match(stdout, /at most the last second of work is lost/);
});

test("parseAb reads ab's counts and times; a run with errors counts them as failed", () => {
  const output = [
    'Complete requests:      50',
    'Failed requests:        0',
    'Non-2xx responses:      2',
    'Time taken for tests:   5.123 seconds',
    'Time per request:       5123.000 [ms] (mean)',
    'Connection Times (ms)',
    '              min  mean[+/-sd] median   max',
    'Processing:   112 2481 1463.6   2531    4942',
    'Total:        113 2488 1462.0   2538    4947',
    '  99%    140',
    ' 100%    151 (longest request)',
  ].join('\n');
  assert.deepEqual(parseAb(output), { complete: 50, failed: 2, meanMs: 2488, longestMs: 151, totalSeconds: 5.123 });
  assert.throws(() => parseAb('ab: invalid URL'), /ab printed no 'Complete requests': ab: invalid URL/);
});

test('a failed chapter removes the services it created and undoes its changes in reverse; a stack it deployed goes whole', async () => {
  const calls: string[] = [];
  const docker: Docker = async (args) => {
    calls.push(args.join(' '));
    return args[0] === 'service' && args[1] === 'ls' ? 'debug\ndockercoins_worker' : '';
  };
  const state = newAppState();
  state.services.add('debug');
  state.undo.push({ args: ['service', 'update', 'dockercoins_worker', '--replicas', '10', '--detach'] }, { args: ['service', 'update', 'x'] });
  const ctx = { options: {} as AppLabOptions, state, docker, signal: new AbortController().signal, progress() {}, run: (c) => docker(c.args) } satisfies AppStepContext;
  await undoAll(ctx);
  assert.deepEqual(calls.slice(1), ['service rm debug', 'service update x', 'service update dockercoins_worker --replicas 10 --detach']);

  calls.length = 0;
  state.deployedStack = true;
  state.undo.push({ args: ['service', 'update', 'x'] });
  await undoAll(ctx);
  assert.deepEqual(calls.slice(1), ['stack rm dockercoins', 'network ls --format {{.Name}}'], 'and waits for its network to go');
});
