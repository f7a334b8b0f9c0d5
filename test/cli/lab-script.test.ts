// Every chapter written as a script, rehearsed by the one runner against a recording fake
// docker: the runner takes exactly the sheet's actions in the sheet's order (each departure and
// each check of the lab's own marked as the sheet marks it), the commands it runs are exactly the
// sheet's commands, and a chapter stopped by a failing command runs as its clean-up only undo
// commands its sheet names. With both endpoint modes and with every option that changes a command.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { chapters } from '../../src/cli/lab/chapters.js';
import { cleanScript } from '../../src/cli/lab/clean.js';
import type { LabOptions } from '../../src/cli/lab/options.js';
import { playScript, queriesOnly } from '../../src/cli/lab/runner.js';
import { EngineLacks, cheatSheet, commandLine, docker, run, type ChapterScript } from '../../src/cli/lab/script.js';
import type { Docker } from '../../src/cli/swarm.js';

const workshop: LabOptions = {
  registry: '127.0.0.1:5000',
  tag: 'v1',
  redisImage: 'redis',
  registryImage: 'registry',
  endpointMode: 'vip',
  port: 8000,
  rngPort: 8001,
  hasherPort: 8002,
  context: '.',
  windowSeconds: 15,
  timeoutSeconds: 60,
  keep: false,
};
const instructor: LabOptions = {
  ...workshop,
  registry: '127.0.0.1:5001',
  redisImage: 'local/redis:7',
  registryImage: 'local/registry:2',
  nodeImage: 'local/node:24',
  debianImage: 'local/debian:bookworm',
  endpointMode: 'dnsrr',
  port: 18000,
  rngPort: 18001,
  hasherPort: 18002,
  buildHost: 'unix:///var/run/docker.sock',
};

/**
 * A docker that records each command it is given as the sheet writes it, and answers the
 * commands whose output the workshop keeps in a variable with that variable ($CID), so that a
 * command using it reads as on the sheet. `failOn` makes the first matching command fail.
 */
function recordingDocker(failOn?: string): { docker: Docker; calls: string[] } {
  const calls: string[] = [];
  let failed = false;
  const docker: Docker = async (args, o = {}) => {
    const line = commandLine({ args, program: o.program, env: o.env && Object.keys(o.env).length ? o.env : undefined });
    const dir = path.relative(path.resolve(workshop.context!), o.cwd ?? '.');
    const recorded = dir ? `${line}   # in ${dir}/` : line;
    calls.push(recorded);
    if (!failed && recorded === failOn) {
      failed = true;
      throw new Error(`${line} failed: injected`);
    }
    if (line.startsWith('docker ps -q --filter')) return '$CID';
    if (line === 'mktemp -d') return '$COPY';
    return '';
  };
  return { docker, calls };
}

/** The sheet without its header and blank lines, the `on <host>` of build commands dropped (the runner passes the host apart); where a command runs stays. */
const sheetLines = (script: ChapterScript, o: LabOptions) =>
  cheatSheet(script, o)
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map(withoutHost);
const withoutHost = (line: string) => line.replace(/(?:, | {3}# )on .*$/, '');
const isCommand = (line: string) => !line.startsWith('#');
const undoMark = '#    ↺ undone on failure by: ';
/** The command a sheet line runs: `X=$(cmd)` runs cmd; where it runs stays. */
const commandOf = (line: string) => {
  const [, command = '', where = ''] = /^(.*?)( {3}# in .*)?$/.exec(line)!;
  return command.replace(/^(\w+)=\$\((.*)\)$/, '$2') + where;
};

const scripts: { name: string; script(o: LabOptions): ChapterScript }[] = [
  ...chapters.flatMap((c) => (c.script ? [{ name: c.name, script: c.script }] : [])),
  { name: 'clean', script: cleanScript },
];

for (const { name, script } of scripts) {
  for (const [options, label] of [
    [workshop, "the workshop's options"],
    [instructor, 'an instructor\'s options (dnsrr, local images, other ports, --build-host)'],
  ] as const) {
    test(`lab ${name}, ${label}: the runner takes the sheet's actions in order and runs exactly its commands`, async () => {
      const s = script(options);
      const { docker, calls } = recordingDocker();
      const transcript: string[] = [];
      const run = await playScript(s, options, { docker, renderer: 'silent', say: () => {}, rehearsal: { transcript } });
      assert.equal(run.ok, true, run.reason);
      const sheet = sheetLines(s, options);
      assert.deepEqual(transcript.map(withoutHost), sheet, 'every action as the sheet prints it, in its order');
      assert.deepEqual(calls, sheet.filter(isCommand).map(commandOf), 'the commands run are the sheet\'s');
      assert.ok(sheet.some(isCommand), 'a chapter runs commands');
    });
  }

  test(`lab ${name}: stopped by its last command failing, it runs as clean-up only the undo its sheet names`, async () => {
    const s = script(instructor);
    const sheet = sheetLines(s, instructor);
    const undoLines = sheet.filter((l) => l.startsWith(undoMark)).map((l) => l.slice(undoMark.length));
    // The last command that is not itself an undo (that one would be tried again as clean-up).
    const last = sheet.filter(isCommand).map(commandOf).filter((c) => !undoLines.includes(c)).at(-1)!;
    const { docker, calls } = recordingDocker(last);
    const said: string[] = [];
    const run = await playScript(s, instructor, { docker, renderer: 'silent', say: (l) => said.push(l), rehearsal: { transcript: [] } });
    assert.equal(run.ok, false);
    assert.match(run.reason!, /injected/);
    const cleanup = calls.slice(calls.indexOf(last) + 1);
    for (const c of cleanup) assert.ok(undoLines.includes(c), `${c}: not an undo on the sheet`);
    if (undoLines.length) assert.ok(cleanup.length > 0, 'what it made is undone');
    assert.equal(said.some((l) => l.startsWith('cleanup failed')), false, said.join('\n'));
  });
}

test('a failure with --keep undoes nothing; Ctrl-C stops the step and undoes', async () => {
  const s = scripts.find((c) => c.name === 'swarm')!.script(workshop);
  const failOn = 'docker service create --network dockercoins --detach --name redis redis';
  const kept = recordingDocker(failOn);
  const run = await playScript(s, { ...workshop, keep: true }, { docker: kept.docker, renderer: 'silent', say: () => {}, rehearsal: { transcript: [] } });
  assert.equal(run.ok, false);
  assert.equal(kept.calls.at(-1), failOn, 'nothing after the failure');

  const interrupt = new AbortController();
  const slow: Docker = async (args, o) => {
    if (args[0] === 'network' && args[1] === 'create') {
      interrupt.abort();
      throw new Error(`${o?.signal?.aborted ? 'aborted' : 'not aborted'}`);
    }
    return '';
  };
  const said: string[] = [];
  const stopped = await playScript(s, workshop, { docker: slow, signal: interrupt.signal, renderer: 'silent', say: (l) => said.push(l), rehearsal: { transcript: [] } });
  assert.equal(stopped.reason, 'An overlay network: interrupted (Ctrl-C)');
  assert.ok(said.includes('$ docker service rm registry'), said.join('\n'));
});

test("the lab's own queries only read: a change to the cluster outside the sheet is refused", async () => {
  const calls: string[] = [];
  const probe = queriesOnly(async (args) => (calls.push(args.join(' ')), ''));
  for (const query of [['service', 'inspect', 'webui'], ['node', 'ls', '-q'], ['info', '--format', '{{.Name}}'], ['volume', 'ls', '-q'], ['image', 'ls', '-q', 'r/x:v1']]) await probe(query);
  await probe(['ps', '--services'], { program: 'docker-compose' });
  for (const change of [['service', 'update', '--env-add', 'LAB=1', 'webui'], ['service', 'rm', 'x'], ['stack', 'deploy', '-c', 'x.yml', 's'], ['kill', 'abc'], ['network', 'create', 'n']])
    await assert.rejects(probe(change), /not a query; a change to the cluster is a command on the sheet/);
  await assert.rejects(probe(['down'], { program: 'docker-compose' }), /not a query/);
  assert.equal(calls.length, 6);
});

test('a build that fails on the Swarm\'s engine says to build elsewhere with --build-host, in a line that reads from its start', async () => {
  const s = scripts.find((c) => c.name === 'swarm')!.script(workshop);
  const failing: Docker = async (args) => {
    if (args[0] === 'build') throw new Error('docker build --target hasher -t dockercoins_hasher . failed: ERROR: failed to solve: node:24: failed to resolve source metadata');
    return '';
  };
  const run = await playScript(s, workshop, { docker: failing, renderer: 'silent', say: () => {}, rehearsal: { transcript: [] } });
  assert.match(run.reason!, /^Build, tag and push the images: docker build --target hasher .* failed: ERROR: .*; where this engine cannot build or reach a registry, build on one that can: --build-host <docker-host>$/);
  const withHost = await playScript(s, { ...workshop, buildHost: 'tcp://builder:2375' }, { docker: failing, renderer: 'silent', say: () => {}, rehearsal: { transcript: [] } });
  assert.doesNotMatch(withHost.reason!, /--build-host/, 'not where one is given');
});

test('a step the engine cannot do (EngineLacks) ends on ✗ with its reason; the chapter goes on, undoes nothing and is not ok', async () => {
  const s: ChapterScript = {
    name: 'A chapter',
    header: 'A chapter',
    keyStep: 'Encrypt',
    steps: [
      { title: 'Make', actions: [run(docker('network', 'create', 'n'), { undo: { key: 'n', actions: [run(docker('network', 'rm', 'n'))] } })] },
      { title: 'Encrypt', actions: [{ do: 'expect', that: 'ESP', check: () => { throw new EngineLacks('no IPsec on this engine'); } }] },
      { title: 'Remove', actions: [run(docker('network', 'rm', 'n'), { settles: ['n'] })] },
    ],
  };
  const { docker: recording, calls } = recordingDocker();
  const played = await playScript(s, workshop, { docker: recording, renderer: 'silent', say: () => {} });
  assert.deepEqual(calls, ['docker network create n', 'docker network rm n'], 'the step after it ran; nothing undone twice');
  assert.deepEqual(played.results.map((r) => [r.title, r.ok, r.engineLacks]), [['Make', true, undefined], ['Encrypt', false, true], ['Remove', true, undefined]]);
  assert.equal(played.ok, false);
  assert.equal(played.reason, undefined);
  assert.deepEqual(played.engineLacks, ['Encrypt: no IPsec on this engine']);
});
