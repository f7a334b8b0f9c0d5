// `lab <chapter> --coach` without a cluster: the mistakes table on states made by hand (each
// detector says its mistake, and nothing on the clean state); the step-ticking of the coach on
// small scripts and a fake docker (any order within a step, a measure only once its step holds,
// the idle line, Ctrl-C's summary); for any sequence of cluster states, that the coach runs
// only queries, never a command of the chapter, and ticks only steps whose state it saw; which
// chapters take --coach; and each of those played step by step on a recording docker.
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { Command as CliCommand } from 'commander';
import fc from 'fast-check';
import { chapters } from '../../src/cli/lab/chapters.js';
import { coachScript, type CoachIo } from '../../src/cli/lab/coach.js';
import type { ClusterState, ServiceState } from '../../src/cli/lab/coach-state.js';
import { swarmMistakes } from '../../src/cli/lab/mistakes.js';
import { labOptions, sharedOptions, type LabOptions } from '../../src/cli/lab/options.js';
import { readOnly } from '../../src/cli/lab/runner.js';
import { docker, run, unwatchableSteps, type Action, type ChapterScript } from '../../src/cli/lab/script.js';
import type { Docker } from '../../src/cli/swarm.js';

const seed = Number(process.env.COACH_SEED ?? Date.now() % 2 ** 31);
const o = { registry: '127.0.0.1:5000', tag: 'v1', port: 8000, endpointMode: 'dnsrr', windowSeconds: 10, timeoutSeconds: 180 } as LabOptions;
const svc = (name: string, more: Partial<ServiceState> = {}): ServiceState => ({ name, replicas: 1, image: `127.0.0.1:5000/${name}:v1`, ports: [], running: 1, errors: [], ...more });
const pushed = { hasher: ['v1'], rng: ['v1'], webui: ['v1'], worker: ['v1'] };
/** The chapter's end state, as the page leaves it: nothing to say. */
const clean: ClusterState = {
  services: { redis: svc('redis', { image: 'redis' }), hasher: svc('hasher'), rng: svc('rng', { replicas: null, running: 3 }), webui: svc('webui', { ports: ['8000/host'] }), worker: svc('worker', { replicas: 10, running: 10 }) },
  networks: { dockercoins: 'overlay', bridge: 'bridge' },
  tags: pushed,
  rate: 27,
};
const with_ = (change: (s: ClusterState) => void): ClusterState => {
  const s = structuredClone(clean);
  change(s);
  return s;
};

const cases: Record<string, { state: ClusterState; says: RegExp }> = {
  'bridge-network': { state: with_((s) => (s.networks.dockercoins = 'bridge')), says: /local bridge network \(created without --driver overlay\): services cannot use it/ },
  'push-without-tag': { state: with_((s) => (s.tags.rng = ['latest'])), says: /has rng:latest but not :v1.*\n {2}Push the tag: docker push 127.0.0.1:5000\/rng:v1/ },
  'image-not-in-registry': {
    state: with_((s) => {
      s.tags.worker = [];
      s.services.worker = svc('worker', { running: 0, errors: ['No such image: 127.0.0.1:5000/worker:v1'] });
    }),
    says: /^worker: no task runs, 127.0.0.1:5000 does not have worker:v1 \(No such image/,
  },
  'webui-not-published': { state: with_((s) => (s.services.webui!.ports = [])), says: /webui runs but publishes no port.*\n {2}Publish it: docker service update webui --publish-add mode=host,published=8000,target=80/ },
  'webui-other-port': { state: with_((s) => (s.services.webui!.ports = ['8080/host'])), says: /webui publishes 8080\/host, not 8000.*\n {2}Publish 8000 \(docker service update webui --publish-rm mode=host,published=8080,target=80 --publish-add mode=host,published=8000,target=80\)/ },
  bottleneck: { state: with_((s) => ((s.services.rng = svc('rng')), (s.rate = 9.6))), says: /^10 workers and still 9.6 hashes\/s: not a mistake/ },
  'rng-scaled': { state: with_((s) => (s.services.rng = svc('rng', { replicas: 3, running: 3 }))), says: /^rng is scaled to 3 replicas: the chapter makes it global/ },
};

test('on the state the chapter ends in, no mistake is said', () => {
  assert.deepEqual(swarmMistakes.map((m) => m.detect(clean, o)).filter(Boolean), []);
});

for (const m of swarmMistakes) {
  test(`mistake ${m.id}: said on its state, in at most two lines, and by no other row`, () => {
    const c = cases[m.id];
    assert.ok(c, `a case for ${m.id}`);
    const message = m.detect(c.state, o);
    assert.match(message ?? '', c.says);
    assert.ok(message!.split('\n').length <= 2);
    assert.deepEqual(swarmMistakes.filter((other) => other !== m && other.detect(c.state, o)).map((x) => x.id), []);
  });
}

test('the bottleneck is a note, every other row a mistake', () => {
  assert.deepEqual(swarmMistakes.filter((m) => m.kind === 'note').map((m) => m.id), ['bottleneck']);
});

/** A coach on `script` whose looks at the cluster are counted: `look` is called with their number. */
function coach(script: ChapterScript, more: Partial<CoachIo> & { look?: (n: number, stop: () => void) => void } = {}) {
  const said: string[] = [];
  const stop = new AbortController();
  let looks = 0;
  const calls: string[][] = [];
  const fake: Docker = async (args) => (calls.push(args), '');
  const running = coachScript(script, o, {
    docker: fake,
    signal: stop.signal,
    say: (l) => said.push(l),
    pollMs: 0,
    idleSeconds: 3600,
    mistakes: [],
    readState: async () => (more.look?.(++looks, () => stop.abort()), { services: {}, networks: {}, tags: {} }),
    ...more,
  });
  return { said, calls, running, stop };
}
const holdsAfter = (look: () => number, n: number, figure: string): Action => ({ do: 'expect', that: figure, check: () => { if (look() < n) throw new Error(`not yet (${figure})`); return { figure }; } });

test('checks of one step are ticked in the order their states are reached; the ✓ line keeps the order of the sheet', async () => {
  let n = 0;
  const script: ChapterScript = { name: 'T', header: 'T', keyStep: 'S', steps: [{ title: 'S', actions: [holdsAfter(() => n, 3, 'a'), holdsAfter(() => n, 1, 'b')] }] };
  const c = coach(script, { look: (i) => (n = i) });
  const run = await c.running;
  assert.deepEqual(c.said.filter((l) => /^ {2}·|^✓/.test(l)), ['  · b', '  · a', '✓ S: a; b']);
  assert.equal(run.done.length, 1);
});

test('a measure is played only once the checks before it in its step hold', async () => {
  let n = 0;
  let measured = -1;
  const measure: Action = { do: 'measure', what: 'm', measure: async () => ((measured = n), { figure: `measured at look ${n}` }) };
  const script: ChapterScript = { name: 'T', header: 'T', keyStep: 'S', steps: [{ title: 'S', actions: [holdsAfter(() => n, 2, 'state'), measure] }] };
  const c = coach(script, { look: (i) => (n = i) });
  await c.running;
  assert.equal(measured, 2);
});

test('a check after a measure is played only once the measure has its reading', async () => {
  let n = 0;
  let snapshotAt = -1;
  let waitedAfter = -1;
  const snapshot: Action = { do: 'measure', what: 'before', measure: async () => { if (n < 2) throw new Error('not yet'); snapshotAt = n; return {}; } };
  const after: Action = { do: 'wait', for: 'after', until: async () => { waitedAfter = snapshotAt; } };
  const script: ChapterScript = { name: 'T', header: 'T', keyStep: 'S', steps: [{ title: 'S', actions: [snapshot, after] }] };
  const c = coach(script, { look: (i) => (n = i) });
  await c.running;
  assert.equal(waitedAfter, 2, 'the wait saw the snapshot taken');
});

test("a conditional command is shown under its 'only if' line; its condition is the lab's, not tested by the coach", async () => {
  let tested = false;
  const create: Action = { do: 'run', command: { args: ['service', 'create', '--name', 'registry', 'registry'] }, when: { says: 'nothing answers yet', holds: async () => (tested = true) } };
  const script: ChapterScript = { name: 'T', header: 'T', keyStep: 'S', steps: [{ title: 'S', actions: [create, { do: 'expect', that: 'x', check: () => ({ figure: 'x' }) }] }] };
  const c = coach(script);
  await c.running;
  assert.deepEqual(c.said.filter((l) => l.startsWith('  ')), ['  #    only if nothing answers yet:', '  $ docker service create --name registry registry']);
  assert.equal(tested, false);
});

test('without a change for --idle, it says what it waits for and why not yet', async () => {
  const script: ChapterScript = { name: 'T', header: 'T', keyStep: 'S', steps: [{ title: 'S', actions: [holdsAfter(() => 0, 1, 'never')] }] };
  const c = coach(script, { idleSeconds: 0, look: (i, stop) => i === 2 && stop() });
  await c.running;
  assert.ok(c.said.includes('… still waiting for: never (now: not yet (never))'));
});

test('Ctrl-C ends it with the steps done and the next one', async () => {
  let n = 0;
  const steps = ['one', 'two', 'three'].map((title, i) => ({ title, actions: [holdsAfter(() => n, i * 2, `${title} held`)] }));
  const c = coach({ name: 'T', header: 'T', keyStep: 'one', steps }, { look: (i, stop) => ((n = i), i === 3 && stop()) });
  const run = await c.running;
  assert.equal(run.interrupted, true);
  assert.match(c.said.at(-1)!, /^\nCoach stopped \(Ctrl-C\) after 0 min 0 s: 2 of 3 steps done\.\n {2}1\. one: one held\n {2}2\. two: two held\n {2}next: 3\. three$/);
});

const command = fc.oneof(
  fc.constantFrom(['service', 'rm', 'rng'], ['network', 'create', 'dockercoins'], ['push', 'r/x:v1'], ['service', 'ps', 'webui'], ['node', 'ls'], ['service', 'update', 'worker', '--replicas', '10']),
  fc.array(fc.constantFrom('service', 'network', 'ls', 'rm', 'create', 'inspect', 'ps', '--detach', 'x'), { minLength: 1, maxLength: 4 }),
);

test(`for any sequence of cluster states: no command of the chapter, only steps seen reached, in order (seed ${seed})`, { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(command, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 5 }), fc.array(fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), { minLength: 1, maxLength: 12 }), async (commands, states) => {
      let now = 0;
      const held = (i: number): Action => ({
        do: 'expect',
        that: `state ${i}`,
        async check(p) {
          await p.docker(['service', 'inspect', `s${i}`]);
          if (!states[now]![i]) throw new Error('not yet');
          return { figure: `${i}@${now}` };
        },
      });
      const steps = commands.map((cs, i) => ({ title: `step ${i}`, actions: [...cs.map((args) => run(docker(...args))), held(i)] }));
      const c = coach({ name: 'T', header: 'T', keyStep: '', steps }, { look: (i, stop) => (i >= states.length ? stop() : (now = i)) });
      const coached = await c.running;
      const runArgs = commands.flat().map((a) => a.join(' '));
      assert.ok(c.calls.length > 0 && c.calls.every((args) => readOnly(args)), "the checks' own queries, nothing else");
      assert.deepEqual(c.calls.filter((args) => runArgs.includes(args.join(' '))), [], 'no command of the chapter');
      coached.done.forEach((d, i) => {
        const [step, at] = d.figure.split('@').map(Number);
        assert.equal(step, i, 'in order');
        assert.equal(states[at!]![step!], true, 'ticked only on a state where it held');
      });
    }),
    { seed, numRuns: 150 },
  );
});

/** Every chapter's options as the CLI makes them, with the registry and the web UI on a closed port: the probes find nothing. */
const chapterOptions = (): LabOptions => {
  const values = sharedOptions(new CliCommand('lab')).parse(['--port', '9', '--rng-port', '9', '--hasher-port', '9', '--registry', '127.0.0.1:9', '--window', '10'], { from: 'user' }).opts();
  return labOptions(values);
};
const coachable = chapters.filter((entry) => !unwatchableSteps(entry.script(chapterOptions())).length);

test('the coach takes the chapters whose every step is a state of the cluster; the others name the steps it cannot watch', () => {
  assert.deepEqual(coachable.map((c) => c.name), ['compose', 'swarm', 'stacks', 'logging', 'metrics']);
  const refused = Object.fromEntries(chapters.filter((c) => !coachable.includes(c)).map((c) => [c.name, unwatchableSteps(c.script(chapterOptions())).map((s) => s.slice(0, s.lastIndexOf(' (it ')))]));
  assert.deepEqual(refused, {
    netshoot: ['4. Enter it, and look up the services', '6. Benchmark rng', '7. Benchmark hasher'],
    ipsec: ['4. Sniff the plain overlay', '6. Sniff the encrypted network'],
    update: ['2. Change the code'],
    rolling: ['3. Roll hasher to another image', '5. Roll back the web UI'],
    healthcheck: ['3. Ship a broken hasher (v0.3: listens on 81)'],
    stateful: ['2. Pin redis to its node', '3. Its data on a volume, append-only', '4. The counts survive an update', '5. The counts survive a kill'],
  });
});

// Side by side: each step's probes look for a few seconds before the coach's second look stops it.
describe('every coachable chapter', { concurrency: true }, () => {
  for (const entry of coachable) {
    it(`lab ${entry.name} --coach, every step played on a recording docker: only queries, and no check reads a command's output`, async () => {
      const co = chapterOptions();
      const script = entry.script(co);
      const calls: { args: string[]; program: string }[] = [];
      const recording: Docker = async (args, options) => (calls.push({ args, program: options?.program ?? 'docker' }), '');
      const said = await Promise.all(
        script.steps.map(async (step) => {
          const lines: string[] = [];
          const stop = new AbortController();
          let looks = 0;
          const readState = async () => (++looks >= 2 && stop.abort(), { services: {}, networks: {}, tags: {} });
          await coachScript({ ...script, steps: [step] }, co, { docker: recording, signal: stop.signal, say: (l) => lines.push(l), pollMs: 0, idleSeconds: 0, mistakes: entry.mistakes ?? [], readState });
          return lines;
        }),
      );
      assert.ok(calls.length > 0, "the checks' own queries");
      assert.deepEqual(calls.filter((c) => !readOnly(c.args, c.program)), [], 'nothing but queries reaches docker');
      assert.deepEqual(said.flat().filter((l) => l.includes('the coach runs no command')), [], "no check reads a command's output");
    });
  }
});
