// The workshop's Swarm chapter, as its page reads: each step's docker commands, then the outcome
// the chapter promises, checked with the figure measured. `dockercoins lab swarm` runs it on a
// real Swarm through the shared runner (./runner.ts).
import { measureRate, publishedUrl, waitForClimbing, serviceTasks, swarmNodes, waitForTasks, waitForUpdate, isRunning, existing } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { cheatSheet, runSteps, type Chapter, type Command, type RunnerIo, type LabRun } from './runner.js';
import {
  appServices,
  docker,
  expectedPlateau,
  minGain,
  network,
  oneWorkerRate,
  registryService,
  removeAll,
  type LabState,
  type SwarmLabOptions,
  type SwarmLabStep as LabStep,
  type SwarmStepContext as StepContext,
} from './swarm-state.js';

export type { LabStep };

const endpointArgs = (o: SwarmLabOptions) => (o.endpointMode === 'dnsrr' ? ['--endpoint-mode', 'dnsrr'] : []);
/** Why a command differs from the page: the options that change it, and flags the page leaves to the engine. */
const noIpvs = 'dnsrr and host-mode ports (--endpoint-mode dnsrr): this engine has no IPVS for VIPs and the routing mesh';
const modeDeparture = (o: SwarmLabOptions, extra?: string) =>
  [o.endpointMode === 'dnsrr' ? noIpvs : undefined, extra].filter(Boolean).join('; ') || undefined;
const detachDeparture = '--detach: the lab waits for the tasks itself, with its own progress line';
const publishArg = (o: SwarmLabOptions, published: number, target: number) =>
  o.endpointMode === 'dnsrr' ? `mode=host,published=${published},target=${target}` : `${published}:${target}`;
const image = (o: SwarmLabOptions, service: string) => `${o.registry}/${service}:${o.tag}`;
// For engines slower still than the images' timing allows for (see the Dockerfile).
const healthArgs = (o: SwarmLabOptions) => (o.healthTimeout ? [`--health-timeout=${o.healthTimeout}s`, `--health-interval=${o.healthTimeout}s`] : []);
const runAll = async (ctx: StepContext, commands: Command[]) => {
  for (const command of commands) await ctx.run(command);
};
const waitOptions = (ctx: StepContext) => ({ timeoutMs: ctx.options.timeoutSeconds * 1000, signal: ctx.signal, progress: ctx.progress });
const perSecond = (rate: number) => rate.toFixed(1);

export function swarmLabSteps(o: SwarmLabOptions): LabStep[] {
  const createRegistry = { ...docker('service', 'create', '--detach', '--name', registryService, '--publish', publishArg(o, 5000, 5000), 'registry'), departure: modeDeparture(o, detachDeparture) };
  const buildLoop = appServices.flatMap((s): Command[] => [
    {
      // Run in the repository (--context), as the chapter runs in its checkout.
      args: ['build', '--target', s, ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '-t', `dockercoins_${s}`, '.'],
      build: true,
      departure: 'docker build --target: our four images come from one Dockerfile (the workshop built them with docker-compose build)',
    },
    { args: ['tag', `dockercoins_${s}`, image(o, s)], build: true },
    { args: ['push', image(o, s)], build: true, departure: 'the :$TAG in the push: since Docker 20.10 a bare `docker push $REGISTRY/$SERVICE` pushes only :latest' },
  ]);
  const createApp = appServices.map((s) => ({
    ...docker('service', 'create', '--network', network, '--detach=true', ...endpointArgs(o), ...healthArgs(o), '--name', s, image(o, s)),
    departure: modeDeparture(o),
  }));
  const createRngGlobal = {
    ...docker('service', 'create', '--detach', '--name', 'rng', '--network', network, '--mode', 'global', ...endpointArgs(o), ...healthArgs(o), image(o, 'rng')),
    departure: modeDeparture(o, detachDeparture),
  };
  const webuiMode = o.endpointMode === 'dnsrr' ? 'host' : 'ingress';
  // Asked again before each measurement: in host mode the URL moves with the task.
  const webui = (ctx: StepContext) => (o.webuiUrl ? Promise.resolve(o.webuiUrl) : publishedUrl(ctx.docker, 'webui', o.port, webuiMode, ctx.signal));

  return [
    {
      title: 'The Swarm',
      commands: [{ ...docker('node', 'ls'), departure: 'a check the lab adds: the chapter starts on the Swarm of the earlier chapters' }],
      expect: 'this engine is a Swarm manager; every node Ready; no DockerCoins services left from an earlier run',
      async run(ctx) {
        await runAll(ctx, this.commands);
        const nodes = await swarmNodes(ctx.docker, ctx.signal);
        const ready = nodes.filter((n) => n.ready).length;
        if (ready < nodes.length) throw new Failure(`${nodes.length - ready} of ${nodes.length} nodes are not Ready`);
        const left = await existing(ctx.docker, 'service', ['redis', ...appServices], ctx.signal);
        const leftNetwork = await existing(ctx.docker, 'network', [network], ctx.signal);
        if (left.length || leftNetwork.length)
          throw new Failure(
            `left over from an earlier run: ${[...left, ...leftNetwork].join(', ')}; remove them: ` +
              [left.length ? `docker service rm ${left.join(' ')}` : '', leftNetwork.length ? `docker network rm ${network}` : ''].filter(Boolean).join(' && '),
          );
        return { figure: `${ready} nodes Ready`, values: { nodes: ready } };
      },
    },
    {
      title: 'A registry',
      commands: [createRegistry],
      expect: `GET http://${o.registry}/v2/ answers 200`,
      async run(ctx) {
        const answers = () => fetch(`http://${o.registry}/v2/`, { signal: AbortSignal.timeout(3000) }).then((r) => r.ok || undefined);
        if (await answers().catch(() => undefined)) return { figure: `${o.registry} already answers (no service created)` };
        await runAll(ctx, this.commands);
        ctx.state.created.services.add(registryService);
        await waitUntil(`the registry at ${o.registry}`, answers, waitOptions(ctx));
        return { figure: `${o.registry} answers` };
      },
    },
    {
      title: 'Build, tag and push the images',
      commands: buildLoop,
      expect: `${appServices.join(', ')} in ${o.registry} with tag ${o.tag}`,
      async run(ctx) {
        await runAll(ctx, this.commands);
        for (const s of appServices) {
          const res = await fetch(`http://${o.registry}/v2/${s}/tags/list`, { signal: AbortSignal.timeout(5000) });
          const tags = res.ok ? ((await res.json()) as { tags: string[] | null }).tags : null;
          if (!tags?.includes(o.tag)) throw new Failure(`${o.registry} has no ${s}:${o.tag} after the push (tags: ${tags?.join(', ') ?? 'none'})`);
        }
        return { figure: `4 images in ${o.registry} with tag ${o.tag}` };
      },
    },
    {
      title: 'An overlay network',
      commands: [docker('network', 'create', '--driver', 'overlay', network), { args: ['network', 'ls'], show: true }],
      expect: `${network}: scope swarm, driver overlay`,
      async run(ctx) {
        await ctx.run(this.commands[0]!);
        ctx.state.created.network = true;
        await ctx.run(this.commands[1]!);
        const [scope, driver] = (await ctx.docker(['network', 'inspect', network, '--format', '{{.Scope}} {{.Driver}}'], { signal: ctx.signal })).trim().split(' ');
        if (scope !== 'swarm' || driver !== 'overlay') throw new Failure(`${network} has scope ${scope} and driver ${driver}, expected swarm and overlay`);
        return { figure: `${network}: scope ${scope}, driver ${driver}` };
      },
    },
    {
      title: 'The redis service',
      commands: [{ ...docker('service', 'create', '--network', network, '--detach', ...endpointArgs(o), '--name', 'redis', o.redisImage), departure: modeDeparture(o, detachDeparture) }],
      expect: 'redis: 1/1 task running',
      async run(ctx) {
        ctx.state.created.services.add('redis');
        await runAll(ctx, this.commands);
        const [task] = await waitForTasks(ctx.docker, 'redis', 1, waitOptions(ctx));
        return { figure: `redis: 1/1 task running on ${task!.node}` };
      },
    },
    {
      title: 'The other services',
      commands: createApp,
      expect: `${appServices.join(', ')}: 1/1 task running each`,
      async run(ctx) {
        for (const s of appServices) ctx.state.created.services.add(s);
        await runAll(ctx, this.commands);
        for (const s of appServices) await waitForTasks(ctx.docker, s, 1, waitOptions(ctx));
        return { figure: `${appServices.join(', ')}: 1/1 task running each` };
      },
    },
    {
      title: 'Publish the web UI',
      commands: [{ ...docker('service', 'update', 'webui', '--detach', '--publish-add', publishArg(o, o.port, 80)), departure: modeDeparture(o, detachDeparture) }],
      expect: `webui publishes ${o.port} (${webuiMode} mode)`,
      async run(ctx) {
        await runAll(ctx, this.commands);
        await waitForUpdate(ctx.docker, 'webui', waitOptions(ctx));
        const ports = await ctx.docker(['service', 'inspect', 'webui', '--format', '{{range .Endpoint.Ports}}{{.PublishedPort}}/{{.PublishMode}} {{end}}'], { signal: ctx.signal });
        if (!ports.includes(`${o.port}/${webuiMode}`)) throw new Failure(`webui publishes "${ports.trim()}", expected ${o.port}/${webuiMode}`);
        return { figure: `webui publishes ${o.port} (${webuiMode} mode)` };
      },
    },
    {
      title: 'What happened to webui',
      commands: [{ args: ['service', 'ps', 'webui'], show: true }],
      expect: 'the first task is shut down, a new one runs in its place',
      async run(ctx) {
        const tasks = await waitUntil(
          'webui: 1 task shut down, 1 running',
          async () => {
            const tasks = await serviceTasks(ctx.docker, 'webui', ctx.signal);
            const shutdown = tasks.filter((t) => t.desired === 'Shutdown' && t.current.startsWith('Shutdown'));
            const running = tasks.filter(isRunning);
            return shutdown.length >= 1 && running.length === 1 ? { shutdown, running } : undefined;
          },
          waitOptions(ctx),
        );
        await runAll(ctx, this.commands);
        const [first] = tasks.shutdown;
        const [now] = tasks.running;
        return { figure: `task ${first!.id.slice(0, 12)} shut down, replaced by ${now!.id.slice(0, 12)} running on ${now!.node}` };
      },
    },
    {
      title: 'The web UI',
      commands: [],
      expect: `GET /json on port ${o.port} answers and the hash counter climbs`,
      async run(ctx) {
        const url = await webui(ctx);
        const later = await waitForClimbing(url, waitOptions(ctx));
        return { figure: `${url}/json answers: ${later.hashes} hashes, climbing`, values: { url, hashes: later.hashes } };
      },
    },
    {
      title: 'One worker',
      commands: [],
      expect: `about ${perSecond(oneWorkerRate)} hashes/s (one hash every 0.3 s)`,
      async run(ctx) {
        await settle(ctx);
        const { rate } = await measureRate(await webui(ctx), o.windowSeconds, ctx);
        const figure = `1 worker: ${perSecond(rate)} hashes/s over ${o.windowSeconds} s`;
        if (rate < oneWorkerRate * 0.7 || rate > oneWorkerRate * 1.3) throw new Failure(`${figure}; expected ${perSecond(oneWorkerRate)} ± 30 %`);
        return { figure, values: { workers: 1, rate } };
      },
    },
    {
      title: 'Scale the workers',
      commands: [{ ...docker('service', 'update', 'worker', '--detach', '--replicas', '10'), departure: detachDeparture }],
      expect: `10/10 worker tasks; the speed plateaus near ${expectedPlateau} hashes/s (one rng)`,
      async run(ctx) {
        await runAll(ctx, this.commands);
        await waitForTasks(ctx.docker, 'worker', 10, waitOptions(ctx));
        await settle(ctx);
        const { rate } = await measureRate(await webui(ctx), o.windowSeconds, ctx);
        ctx.state.plateau = rate;
        const figure = `10/10 workers: ${perSecond(rate)} hashes/s over ${o.windowSeconds} s`;
        if (rate < expectedPlateau * 0.7 || rate > expectedPlateau * 1.3)
          throw new Failure(`${figure}; expected ${expectedPlateau} ± 30 % (one rng answers 10 requests/s)`);
        return { figure, values: { workers: 10, rate } };
      },
    },
    {
      title: 'rng in global mode',
      commands: [docker('service', 'rm', 'rng'), createRngGlobal],
      expect: `one rng task per node; the speed rises about × the number of nodes over the plateau (${o.minGain ? `at least ${o.minGain}×` : 'at least 2.5× on 3 nodes'})`,
      async run(ctx) {
        await runAll(ctx, this.commands);
        const nodes = (await swarmNodes(ctx.docker, ctx.signal)).filter((n) => n.ready).length;
        const tasks = await waitForTasks(ctx.docker, 'rng', nodes, { ...waitOptions(ctx), perNode: true });
        await settle(ctx);
        const plateau = ctx.state.plateau!;
        // A second window when the first falls short: on a busy host, 3 rng tasks on
        // 2-core nodes can spend a window waiting for CPU rather than for their queues.
        const gainNeeded = minGain(o, nodes);
        const windows = [(await measureRate(await webui(ctx), o.windowSeconds, ctx)).rate];
        if (windows[0]! < gainNeeded * plateau) windows.push((await measureRate(await webui(ctx), o.windowSeconds, ctx)).rate);
        const rate = Math.max(...windows);
        const gain = rate / plateau;
        const tried = windows.length > 1 ? ` (best of 2 windows: ${windows.map(perSecond).join(', ')})` : '';
        const figure = `${tasks.length} rng tasks on ${nodes} nodes: ${perSecond(rate)} hashes/s${tried}, ${gain.toFixed(2)}× the plateau (${perSecond(plateau)})`;
        if (gain < gainNeeded) throw new Failure(`${figure}; expected at least ${gainNeeded.toFixed(2)}× on ${nodes} nodes`);
        return { figure, values: { nodes, rngTasks: tasks.length, rate, gain } };
      },
    },
    ...(o.keep
      ? []
      : [
          {
            title: 'Remove everything',
            commands: [
              { ...docker('service', 'rm', 'redis', ...appServices), departure: 'what the lab created, by name (the page removes every service: docker service ls -q | xargs docker service rm)' },
              { ...docker('network', 'rm', network), departure: 'the network too, so that the next run starts clean' },
            ],
            expect: 'no DockerCoins service, no dockercoins network',
            async run(ctx: StepContext) {
              const removed = await removeAll(ctx);
              return { figure: `removed ${removed.join(', ')}` };
            },
          },
        ]),
  ];
}

/** The workers back off up to 1 s after a fault and flush once a second: let them settle before measuring. */
const settle = (ctx: StepContext) => {
  ctx.progress('letting the workers settle (5 s)');
  return sleep(5000, ctx.signal);
};

/** Runs the chapter's steps; on a failure or Ctrl-C, removes what they created unless `keep`. */
export const runLab = (steps: LabStep[], o: SwarmLabOptions, io: RunnerIo = {}): Promise<LabRun> =>
  runSteps(steps, o, { created: { services: new Set(), network: false } } satisfies LabState, { needed: (s) => s.created.services.size > 0 || s.created.network, run: removeAll }, io);

export function swarmChapter(o: SwarmLabOptions): Chapter {
  const steps = swarmLabSteps(o);
  return {
    name: 'The Swarm chapter',
    cheatSheet: () => cheatSheet(`The Swarm chapter (registry ${o.registry}, tag ${o.tag}, endpoint mode ${o.endpointMode})`, steps, o),
    run: (io) => runLab(steps, o, io),
  };
}
