// The workshop's netshoot chapter ("Breaking into an overlay network"), as its page reads: a
// do-nothing container on the app's overlay network, entered with docker exec; what `rng`,
// `tasks.rng` and `tasks.hasher` resolve to; then, with the workers stopped, ab against rng and
// hasher at concurrency 1 and 50: rng serves one request at a time, hasher does not.
import { existing, isRunning, serviceTasks, waitForTasks } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { runningApp } from './app.js';
import type { LabOptions } from './options.js';
import { departs, detached, docker, run, type Action, type ChapterScript, type Command, type Play, type Step } from './script.js';
import { cliNode, service, stackNetwork, waitOptions } from './stack.js';
import { netshootImage, netshootImageStep } from './stand-in.js';

const debugService = 'debug';
const exec = (...args: string[]): Command => ({ args: ['exec', '$CID', ...args], show: true });

/** What ab says of one run. */
export interface AbResult {
  complete: number;
  failed: number;
  /** Mean time a request took, ms. */
  meanMs: number;
  longestMs: number;
  totalSeconds: number;
}

export function parseAb(output: string): AbResult {
  const number = (label: string, value: string) => {
    const m = new RegExp(`${label}:?\\s+${value}`).exec(output);
    if (!m) throw new Failure(`ab printed no '${label}': ${output.trim().split('\n').slice(-2).join(' / ')}`);
    return Number(m[1]);
  };
  return {
    complete: number('Complete requests', '(\\d+)'),
    failed: number('Failed requests', '(\\d+)') + Number(/Non-2xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0),
    // The Total row's mean (min, mean, sd, median, max): ab's "Time per request" is the run's time × c / n.
    meanMs: number('Total', '\\d+\\s+(\\d+)'),
    longestMs: number('100%', '(\\d+) \\(longest request\\)'),
    totalSeconds: number('Time taken for tests', '([\\d.]+) seconds'),
  };
}

const describe = (r: AbResult) => `mean ${Math.round(r.meanMs)} ms, longest ${r.longestMs} ms, ${r.totalSeconds.toFixed(1)} s in all`;

/** The A records in drill's answer section. */
const addresses = (drill: string) => drill.split('\n').filter((l) => /\sIN\s+A\s/.test(l)).map((l) => l.trim().split(/\s+/).at(-1)!);

/** ab at c=1 then c=50, each kept under `key`-1 and `key`-50. */
const ab = (key: string, ...target: string[]): Action[] => [1, 50].map((c) => run(exec('ab', '-c', String(c), '-n', '50', ...target), { keep: `${key}-${c}` }));

/** Both ab runs read: every request answered; the growth of the mean latency from c=1 to c=50. */
function abResults(p: Play, key: string): { one: AbResult; fifty: AbResult; growth: number } {
  const [one, fifty] = [1, 50].map((c) => {
    const r = parseAb(p.out[`${key}-${c}`]!);
    if (r.failed || r.complete !== 50) throw new Failure(`ab -c ${c}: ${r.complete} complete, ${r.failed} failed`);
    return r;
  }) as [AbResult, AbResult];
  return { one, fifty, growth: fifty.meanMs / one.meanMs };
}

/** The workers' service, stopped while the benchmarks run. */
const workers = service('worker');

const debugImageStep = (o: LabOptions): Step =>
  netshootImageStep(o, 'A debug image (departure: Debian packages, not alpine)', "not in the workshop, which runs alpine and installs curl, ab and drill with apk (or uses nicolaka/netshoot): neither is reachable without an image registry, Debian's packages are");

function debugContainerStep(o: LabOptions, removeDebug: Action): Step {
  const image = netshootImage(o);
  return {
    title: "A debug container on the app's network",
    actions: [
      cliNode,
      run(departs(docker('service', 'create', '--detach', '--network', stackNetwork(), '--name', debugService, '--constraint', 'node.hostname==$HOSTNAME', image, 'sleep', '1000000000'), `${image} for alpine`, detached), {
        undo: { key: debugService, actions: [removeDebug] },
      }),
      {
        do: 'wait',
        for: `${debugService}: 1 task running on this node ($HOSTNAME)`,
        async until(p) {
          const [task] = await waitForTasks(p.docker, debugService, 1, waitOptions(p));
          if (task!.node !== p.vars.HOSTNAME) throw new Failure(`${debugService} runs on ${task!.node}, not on ${p.vars.HOSTNAME}`);
          return { figure: `${debugService} running on ${task!.node}` };
        },
      },
    ],
  };
}

const lookUpStep = (o: LabOptions): Step => ({
  title: 'Enter it, and look up the services',
  actions: [
    run({ args: ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${debugService}`], assign: 'CID' }),
    run(departs(exec('drill', 'rng'), 'one docker exec per command, where the workshop opens a shell in the container (docker exec -ti $CID sh) and types them there'), { keep: 'rng' }),
    run(exec('drill', 'tasks.rng'), { keep: 'tasks.rng' }),
    run(exec('drill', 'tasks.hasher'), { keep: 'tasks.hasher' }),
    {
      do: 'expect',
      unwatchable: 'it reads what drill printed in the debug container',
      that: `rng resolves (${o.endpointMode === 'vip' ? 'a virtual IP' : 'dnsrr: the task addresses'}); tasks.rng and tasks.hasher: one address per running task`,
      async check(p) {
        const running = async (name: 'rng' | 'hasher') => (await serviceTasks(p.docker, service(name), p.signal)).filter(isRunning).length;
        const [rng, tasksRng, tasksHasher] = ['rng', 'tasks.rng', 'tasks.hasher'].map((k) => addresses(p.out[k]!).length) as [number, number, number];
        const [rngTasks, hasherTasks] = [await running('rng'), await running('hasher')];
        const figure = `rng: ${rng} address(es); tasks.rng: ${tasksRng} (${rngTasks} tasks); tasks.hasher: ${tasksHasher} (${hasherTasks} tasks)`;
        if (rng < 1 || tasksRng !== rngTasks || tasksHasher !== hasherTasks) throw new Failure(figure);
        return { figure, values: { rng, tasksRng, tasksHasher } };
      },
    },
  ],
});

const workersStoppedStep = (workersBack: Action): Step => ({
  title: 'A test request, then the workers stopped',
  actions: [
    run(exec('curl', '-fsS', 'rng')),
    {
      do: 'measure',
      what: "WORKERS: the workers' replicas, to put back",
      async measure(p) {
        p.vars.WORKERS = (await p.docker(['service', 'inspect', workers, '--format', '{{.Spec.Mode.Replicated.Replicas}}'], { signal: p.signal })).trim();
        return { figure: `curl rng answered; ${p.vars.WORKERS} workers stopped`, values: { workers: Number(p.vars.WORKERS) } };
      },
    },
    run(departs(docker('service', 'update', workers, '--replicas', '0', '--detach'), detached), { undo: { key: 'workers', actions: [workersBack] } }),
    { do: 'wait', for: '0 worker tasks (the benchmark runs in isolation)', until: (p) => waitUntil('0 worker tasks', async () => ((await serviceTasks(p.docker, workers, p.signal)).some((t) => t.current.startsWith('Running')) ? undefined : true), waitOptions(p)).then(() => {}) },
  ],
});

const benchmarkRngStep = (): Step => ({
  title: 'Benchmark rng',
  actions: [
    ...ab('rng', 'http://rng/10'),
    {
      do: 'expect',
      unwatchable: 'it reads what ab printed',
      that: 'c=1: about 100 ms a request; c=50: the requests queue (rng serves one at a time): latency many times higher, the last one waits for the 49 before it',
      check(p) {
        const { one, fifty, growth } = abResults(p, 'rng');
        const figure = `c=1 ${describe(one)}; c=50 ${describe(fifty)}: mean ×${growth.toFixed(1)}, longest ×${(fifty.longestMs / one.meanMs).toFixed(1)}`;
        if (growth < 5) throw new Failure(`${figure}; expected the mean latency to grow at least 5× (a queue)`);
        return { figure, values: { c1MeanMs: one.meanMs, c50MeanMs: fifty.meanMs, c50LongestMs: fifty.longestMs, growth } };
      },
    },
  ],
});

const benchmarkHasherStep = (): Step => ({
  title: 'Benchmark hasher',
  actions: [
    run(exec('sh', '-c', 'curl -fsS http://rng/10 >/tmp/random')),
    ...ab('hasher', '-T', 'application/octet-stream', '-p', '/tmp/random', 'http://hasher/'),
    {
      do: 'expect',
      unwatchable: 'it reads what ab printed',
      that: 'each request a bit more than 100 ms at both concurrencies: c=1 takes about 5 s in all, c=50 under 1 s (hasher serves requests concurrently)',
      check(p) {
        const { one, fifty, growth } = abResults(p, 'hasher');
        const figure = `c=1 ${describe(one)}; c=50 ${describe(fifty)}: mean ×${growth.toFixed(1)}`;
        if (growth > 3) throw new Failure(`${figure}; expected about the same latency (concurrent), at most 3×`);
        return { figure, values: { c1MeanMs: one.meanMs, c50MeanMs: fifty.meanMs, c50LongestMs: fifty.longestMs, growth } };
      },
    },
  ],
});

const workersBackStep = (workersBack: Action, removeDebug: Action): Step => ({
  title: 'The workers back, the debug container removed',
  actions: [
    workersBack,
    {
      do: 'wait',
      for: 'the workers as many as before',
      until: (p) => waitForTasks(p.docker, workers, Number(p.vars.WORKERS), waitOptions(p)).then(() => ({ figure: `${p.vars.WORKERS} workers running`, values: { workers: Number(p.vars.WORKERS) } })),
    },
    removeDebug,
    {
      do: 'expect',
      that: 'no debug service',
      async check(p) {
        if ((await existing(p.docker, 'service', [debugService], p.signal)).length) throw new Failure(`${debugService} is still there`);
        return { figure: `${debugService} removed` };
      },
    },
  ],
});

export function netshootScript(o: LabOptions): ChapterScript {
  const removeDebug = run(departs(docker('service', 'rm', debugService), 'not on the page: the debug container removed'), { settles: [debugService] });
  const workersBack = run(departs(docker('service', 'update', workers, '--replicas', '$WORKERS', '--detach'), 'not on the page: the workers back as many as before (WORKERS), for the next chapter', detached), { settles: ['workers'] });
  return {
    name: 'The netshoot chapter',
    header: `The netshoot chapter: breaking into an overlay network (stack dockercoins, endpoint mode ${o.endpointMode})`,
    keyStep: 'Benchmark rng',
    steps: [runningApp(o), debugImageStep(o), debugContainerStep(o, removeDebug), lookUpStep(o), workersStoppedStep(workersBack), benchmarkRngStep(), benchmarkHasherStep(), workersBackStep(workersBack, removeDebug)],
  };
}
