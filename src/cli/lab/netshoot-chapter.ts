// The workshop's netshoot chapter ("Breaking into an overlay network"), as its page reads: a
// do-nothing container on the app's overlay network, entered with docker exec; what `rng`,
// `tasks.rng` and `tasks.hasher` resolve to; then, with the workers stopped, ab against rng and
// hasher at concurrency 1 and 50: rng serves one request at a time, hasher does not.
import { isRunning, serviceTasks, waitForTasks } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { Chapter, Command } from './old-runner.js';
import {
  appChapter,
  departs,
  detached,
  docker,
  withVars,
  runningAppStep,
  service,
  stackNetwork,
  waitOptions,
  type AppLabOptions,
  type AppLabStep,
  type AppStepContext,
} from './app-state.js';

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

/** Runs two ab commands (c=1 then c=50) and checks every request answered. */
async function benchmark(ctx: AppStepContext, commands: Command[], cid: string): Promise<[AbResult, AbResult]> {
  const results: AbResult[] = [];
  for (const c of commands) {
    ctx.progress(`ab: ${c.args.slice(3).join(' ')}`);
    const r = parseAb(await ctx.run(withVars(c, { CID: cid })));
    if (r.failed || r.complete !== 50) throw new Failure(`${c.args.slice(2).join(' ')}: ${r.complete} complete, ${r.failed} failed`);
    results.push(r);
  }
  return results as [AbResult, AbResult];
}

/** The A records in drill's answer section. */
const addresses = (drill: string) => drill.split('\n').filter((l) => /\sIN\s+A\s/.test(l)).map((l) => l.trim().split(/\s+/).at(-1)!);

export function netshootSteps(o: AppLabOptions): AppLabStep[] {
  const image = `${o.registry}/netshoot:${o.tag}`;
  /** The debug container, as `CID=$(docker ps …)` found it. */
  let containerId = '';
  const workers = service('worker');
  return [
    runningAppStep(o),
    {
      title: 'A debug image (departure: Debian packages, not alpine)',
      commands: [
        departs(
          { args: ['build', ...(o.debianImage ? ['--build-arg', `DEBIAN_IMAGE=${o.debianImage}`] : []), '-t', image, '-f', 'stacks/netshoot.Dockerfile', 'stacks'], build: true },
          "not in the workshop, which runs alpine and installs curl, ab and drill with apk (or uses nicolaka/netshoot): neither is reachable without an image registry, Debian's packages are",
        ),
        { args: ['push', image], build: true },
      ],
      expect: `${image}: Debian with curl, ab (apache2-utils) and drill (ldnsutils)`,
      async run(ctx) {
        for (const c of this.commands) await ctx.run(c);
        return { figure: `${image} pushed` };
      },
    },
    {
      title: "A debug container on the app's network",
      commands: [departs(docker('service', 'create', '--detach', '--network', stackNetwork, '--name', debugService, '--constraint', 'node.hostname==$HOSTNAME', image, 'sleep', '1000000000'), `${image} for alpine`, detached)],
      expect: `${debugService}: 1 task running on this node (the one the docker CLI talks to: $HOSTNAME)`,
      async run(ctx) {
        const hostname = (await ctx.docker(['info', '--format', '{{.Name}}'], { signal: ctx.signal })).trim();
        ctx.state.services.add(debugService);
        await ctx.run(withVars(this.commands[0]!, { HOSTNAME: hostname }));
        const [task] = await waitForTasks(ctx.docker, debugService, 1, waitOptions(ctx));
        if (task!.node !== hostname) throw new Failure(`${debugService} runs on ${task!.node}, not on ${hostname}`);
        return { figure: `${debugService} running on ${hostname}` };
      },
    },
    {
      title: 'Enter it, and look up the services',
      commands: [
        { args: ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${debugService}`], assign: 'CID' },
        departs(exec('drill', 'rng'), 'one docker exec per command, where the workshop opens a shell in the container (docker exec -ti $CID sh) and types them there'),
        exec('drill', 'tasks.rng'),
        exec('drill', 'tasks.hasher'),
      ],
      expect: `rng resolves (${o.endpointMode === 'vip' ? 'a virtual IP' : 'dnsrr: the task addresses'}); tasks.rng and tasks.hasher: one address per running task`,
      async run(ctx) {
        containerId = (await ctx.run(this.commands[0]!)).trim();
        if (!/^[0-9a-f]{12}$/.test(containerId)) throw new Failure(`docker ps found no single ${debugService} container: "${containerId}"`);
        const resolved: number[] = [];
        for (const c of this.commands.slice(1)) resolved.push(addresses(await ctx.run(withVars(c, { CID: containerId }))).length);
        const running = async (name: 'rng' | 'hasher') => (await serviceTasks(ctx.docker, service(name), ctx.signal)).filter(isRunning).length;
        const [rngTasks, hasherTasks] = [await running('rng'), await running('hasher')];
        const figure = `rng: ${resolved[0]} address(es); tasks.rng: ${resolved[1]} (${rngTasks} tasks); tasks.hasher: ${resolved[2]} (${hasherTasks} tasks)`;
        if (resolved[0]! < 1 || resolved[1] !== rngTasks || resolved[2] !== hasherTasks) throw new Failure(figure);
        return { figure, values: { rng: resolved[0]!, tasksRng: resolved[1]!, tasksHasher: resolved[2]! } };
      },
    },
    {
      title: 'A test request, then the workers stopped',
      commands: [exec('curl', '-fsS', 'rng'), departs(docker('service', 'update', workers, '--replicas', '0', '--detach'), detached)],
      expect: 'curl rng answers; 0 worker tasks (the benchmark runs in isolation)',
      async run(ctx) {
        await ctx.run(withVars(this.commands[0]!, { CID: containerId }));
        const replicas = Number(await ctx.docker(['service', 'inspect', workers, '--format', '{{.Spec.Mode.Replicated.Replicas}}'], { signal: ctx.signal }));
        ctx.state.figures.workers = replicas;
        ctx.state.undo.push(docker('service', 'update', workers, '--replicas', String(replicas), '--detach'));
        await ctx.run(this.commands[1]!);
        await waitUntil('0 worker tasks', async () => ((await serviceTasks(ctx.docker, workers, ctx.signal)).some((t) => t.current.startsWith('Running')) ? undefined : true), waitOptions(ctx));
        return { figure: `curl rng answered; ${replicas} workers stopped`, values: { workers: replicas } };
      },
    },
    {
      title: 'Benchmark rng',
      commands: [exec('ab', '-c', '1', '-n', '50', 'http://rng/10'), exec('ab', '-c', '50', '-n', '50', 'http://rng/10')],
      expect: 'c=1: about 100 ms a request; c=50: the requests queue (rng serves one at a time): latency many times higher, the last one waits for the 49 before it',
      async run(ctx) {
        const [one, fifty] = await benchmark(ctx, this.commands, containerId);
        const growth = fifty.meanMs / one.meanMs;
        const figure = `c=1 ${describe(one)}; c=50 ${describe(fifty)}: mean ×${growth.toFixed(1)}, longest ×${(fifty.longestMs / one.meanMs).toFixed(1)}`;
        if (growth < 5) throw new Failure(`${figure}; expected the mean latency to grow at least 5× (a queue)`);
        return { figure, values: { c1MeanMs: one.meanMs, c50MeanMs: fifty.meanMs, c50LongestMs: fifty.longestMs, growth } };
      },
    },
    {
      title: 'Benchmark hasher',
      commands: [
        exec('sh', '-c', 'curl -fsS http://rng/10 >/tmp/random'),
        exec('ab', '-c', '1', '-n', '50', '-T', 'application/octet-stream', '-p', '/tmp/random', 'http://hasher/'),
        exec('ab', '-c', '50', '-n', '50', '-T', 'application/octet-stream', '-p', '/tmp/random', 'http://hasher/'),
      ],
      expect: 'each request a bit more than 100 ms at both concurrencies: c=1 takes about 5 s in all, c=50 under 1 s (hasher serves requests concurrently)',
      async run(ctx) {
        await ctx.run(withVars(this.commands[0]!, { CID: containerId }));
        const [one, fifty] = await benchmark(ctx, this.commands.slice(1), containerId);
        const growth = fifty.meanMs / one.meanMs;
        const figure = `c=1 ${describe(one)}; c=50 ${describe(fifty)}: mean ×${growth.toFixed(1)}`;
        if (growth > 3) throw new Failure(`${figure}; expected about the same latency (concurrent), at most 3×`);
        return { figure, values: { c1MeanMs: one.meanMs, c50MeanMs: fifty.meanMs, c50LongestMs: fifty.longestMs, growth } };
      },
    },
    {
      title: 'The workers back, the debug container removed',
      commands: [
        departs(docker('service', 'update', workers, '--replicas', '$WORKERS', '--detach'), 'not on the page: the workers back as many as before (WORKERS), for the next chapter', detached),
        departs(docker('service', 'rm', debugService), 'not on the page: the debug container removed'),
      ],
      expect: 'the workers as many as before; no debug service',
      async run(ctx) {
        const replicas = String(ctx.state.figures.workers);
        await ctx.run(withVars(this.commands[0]!, { WORKERS: replicas }));
        ctx.state.undo = [];
        await waitForTasks(ctx.docker, workers, Number(replicas), waitOptions(ctx));
        await ctx.run(this.commands[1]!);
        ctx.state.services.delete(debugService);
        return { figure: `${replicas} workers running; ${debugService} removed`, values: { workers: Number(replicas) } };
      },
    },
  ];
}

export const netshootChapter = (o: AppLabOptions): Chapter => appChapter('The netshoot chapter', netshootSteps(o), o, ': breaking into an overlay network');
