// `dockercoins lab swarm`: the workshop's Swarm chapter, step by step, on a real Swarm. Each
// step prints the docker commands it runs (the chapter's own), runs them with the user's docker
// CLI, shows what it waits for, then checks the outcome the chapter promises and prints one
// ✓ or ✗ line with the figure it measured. The steps are plain data (swarmLabSteps) so that
// `--dry-run` prints them as a cheat sheet and tests can check them; runLab runs them.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Listr } from 'listr2';
import { Command as CliCommand, Option } from 'commander';
import {
  dockerCli,
  existing,
  measureRate,
  publishedUrl,
  readCounters,
  serviceTasks,
  shellLine,
  swarmNodes,
  waitForTasks,
  waitForUpdate,
  isRunning,
  type Docker,
} from './swarm.js';
import { numberOption } from './number-option.js';
import { repositoryRoot } from '../lib/paths.js';
import { sleep } from '../lib/sleep.js';
import { Failure, waitUntil } from '../lib/wait.js';

/** The chapter's order. */
export const appServices = ['hasher', 'rng', 'webui', 'worker'] as const;
const network = 'dockercoins';
const registryService = 'registry';
/** One rng instance answers 10 requests/s (100 ms each, one at a time): the chapter's plateau. */
export const expectedPlateau = 10;

export interface SwarmLabOptions {
  /** Where images go, as the chapter's REGISTRY. */
  registry: string;
  tag: string;
  redisImage: string;
  /** Build argument NODE_IMAGE (the Dockerfile's default when not given). */
  nodeImage?: string;
  /** vip: the standard; dnsrr + host-mode ports: for engines without IPVS. */
  endpointMode: 'vip' | 'dnsrr';
  /** The web UI's published port. */
  port: number;
  /** Where to read the web UI; by default found from where the port is published. */
  webuiUrl?: string;
  /** Docker engine that builds and pushes the images (default: the same as the Swarm's). */
  buildHost?: string;
  /** The repository root: the build context. */
  context: string;
  /** Window of each hashes/s measurement, seconds (the workers flush once a second). */
  windowSeconds: number;
  /** Overrides the images' health check timing (10 s timeout, every 30 s), seconds. */
  healthTimeout?: number;
  /** Longest wait for any one convergence, seconds. */
  timeoutSeconds: number;
  /** Global rng must reach this multiple of the plateau. */
  minGain: number;
  keep: boolean;
}

export interface Outcome {
  figure: string;
  values?: Record<string, number | string>;
}

export interface Command {
  args: string[];
  /** Runs on the build engine (build, tag, push) instead of the Swarm. */
  build?: boolean;
  /** Its output is part of the lesson (network ls, service ps). */
  show?: boolean;
}

/** What steps share while the lab runs. */
export interface LabState {
  plateau?: number;
  /** Services and networks the lab created, to remove on failure or Ctrl-C. */
  created: { services: Set<string>; network: boolean };
}

export interface StepContext {
  options: SwarmLabOptions;
  state: LabState;
  docker: Docker;
  signal: AbortSignal;
  /** Prints and runs one of the step's commands; resolves with its output. */
  run(command: Command): Promise<string>;
  progress(line: string): void;
}

export interface LabStep {
  title: string;
  commands: Command[];
  /** The outcome the chapter promises, for the cheat sheet. */
  expect: string;
  run(ctx: StepContext): Promise<Outcome>;
}

const docker = (...args: string[]): Command => ({ args });
const endpointArgs = (o: SwarmLabOptions) => (o.endpointMode === 'dnsrr' ? ['--endpoint-mode', 'dnsrr'] : []);
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
  const createRegistry = docker('service', 'create', '--detach', '--name', registryService, '--publish', publishArg(o, 5000, 5000), 'registry');
  const buildLoop = appServices.flatMap((s): Command[] => [
    {
      args: ['build', '--target', s, ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '-t', `dockercoins_${s}`, path.relative(process.cwd(), o.context) || '.'],
      build: true,
    },
    { args: ['tag', `dockercoins_${s}`, image(o, s)], build: true },
    { args: ['push', image(o, s)], build: true },
  ]);
  const createApp = appServices.map((s) =>
    docker('service', 'create', '--network', network, '--detach=true', ...endpointArgs(o), ...healthArgs(o), '--name', s, image(o, s)),
  );
  const createRngGlobal = docker('service', 'create', '--detach', '--name', 'rng', '--network', network, '--mode', 'global', ...endpointArgs(o), ...healthArgs(o), image(o, 'rng'));
  const webuiMode = o.endpointMode === 'dnsrr' ? 'host' : 'ingress';
  // Asked again before each measurement: in host mode the URL moves with the task.
  const webui = (ctx: StepContext) => (o.webuiUrl ? Promise.resolve(o.webuiUrl) : publishedUrl(ctx.docker, 'webui', o.port, webuiMode, ctx.signal));

  return [
    {
      title: 'The Swarm',
      commands: [docker('node', 'ls')],
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
      commands: [docker('service', 'create', '--network', network, '--detach', ...endpointArgs(o), '--name', 'redis', o.redisImage)],
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
      commands: [docker('service', 'update', 'webui', '--detach', '--publish-add', publishArg(o, o.port, 80))],
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
        const first = await waitUntil(`${url}/json`, () => readCounters(url, ctx.signal), waitOptions(ctx));
        const later = await waitUntil(
          'the hash counter to climb',
          async () => {
            const now = await readCounters(url, ctx.signal);
            return now.hashes > first.hashes ? now : undefined;
          },
          waitOptions(ctx),
        );
        return { figure: `${url}/json answers: ${later.hashes} hashes, climbing`, values: { url, hashes: later.hashes } };
      },
    },
    {
      title: 'Scale the workers',
      commands: [docker('service', 'update', 'worker', '--detach', '--replicas', '10')],
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
      expect: 'one rng task per node; the speed rises above the plateau',
      async run(ctx) {
        await runAll(ctx, this.commands);
        const nodes = (await swarmNodes(ctx.docker, ctx.signal)).filter((n) => n.ready).length;
        const tasks = await waitForTasks(ctx.docker, 'rng', nodes, { ...waitOptions(ctx), perNode: true });
        await settle(ctx);
        const plateau = ctx.state.plateau!;
        // A second window when the first falls short: on a busy host, 3 rng tasks on
        // 2-core nodes can spend a window waiting for CPU rather than for their queues.
        const windows = [(await measureRate(await webui(ctx), o.windowSeconds, ctx)).rate];
        if (windows[0]! < o.minGain * plateau) windows.push((await measureRate(await webui(ctx), o.windowSeconds, ctx)).rate);
        const rate = Math.max(...windows);
        const gain = rate / plateau;
        const tried = windows.length > 1 ? ` (best of 2 windows: ${windows.map(perSecond).join(', ')})` : '';
        const figure = `${tasks.length} rng tasks on ${nodes} nodes: ${perSecond(rate)} hashes/s${tried}, ${gain.toFixed(2)}× the plateau (${perSecond(plateau)})`;
        if (gain < o.minGain) throw new Failure(`${figure}; expected at least ${o.minGain}×`);
        return { figure, values: { nodes, rngTasks: tasks.length, rate, gain } };
      },
    },
    ...(o.keep
      ? []
      : [
          {
            title: 'Remove everything',
            commands: [docker('service', 'rm', 'redis', ...appServices), docker('network', 'rm', network)],
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

/**
 * Removes what the lab created (whatever step it stopped at): services first, then the network,
 * once their tasks have let go of it.
 */
async function removeAll(ctx: Pick<StepContext, 'docker' | 'run' | 'signal' | 'progress' | 'state' | 'options'>): Promise<string[]> {
  const services = await existing(ctx.docker, 'service', [...new Set(['redis', ...appServices, ...ctx.state.created.services])]);
  const removed: string[] = [];
  if (services.length) {
    await ctx.run(docker('service', 'rm', ...services));
    removed.push(...services);
  }
  if ((await existing(ctx.docker, 'network', [network])).length) {
    // `network rm` fails while the removed services' tasks still hold endpoints on it.
    await waitUntil(`the ${network} network to be free`, () => ctx.run(docker('network', 'rm', network)).then(() => true), {
      timeoutMs: ctx.options.timeoutSeconds * 1000,
      progress: ctx.progress,
    });
    // The manager may list it for a moment longer, while the nodes let go of it.
    await waitUntil(`the ${network} network to be gone`, async () => ((await existing(ctx.docker, 'network', [network])).length ? undefined : true), {
      timeoutMs: ctx.options.timeoutSeconds * 1000,
      progress: ctx.progress,
    });
    removed.push(`the ${network} network`);
  }
  ctx.state.created = { services: new Set(), network: false };
  return removed;
}

/** The cheat sheet: every step's commands and what to look for. */
export function cheatSheet(steps: LabStep[], o: SwarmLabOptions): string {
  const lines = [`# The Swarm chapter (registry ${o.registry}, tag ${o.tag}, endpoint mode ${o.endpointMode})`];
  for (const [i, step] of steps.entries()) {
    lines.push('', `# ${i + 1}. ${step.title}`);
    for (const c of step.commands) lines.push(`docker ${shellLine(c.args)}${c.build && o.buildHost ? `   # on ${o.buildHost}` : ''}`);
    lines.push(`#    expect: ${step.expect}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface StepResult {
  title: string;
  ok: boolean;
  figure: string;
  seconds: number;
  values?: Record<string, number | string>;
}

export interface LabRun {
  ok: boolean;
  results: StepResult[];
  seconds: number;
  /** Why it stopped, when it did not finish. */
  reason?: string;
}

/**
 * Runs the steps in order with listr2 (a spinner and what it waits for on a terminal, plain
 * lines otherwise). Stops at the first failure or when `signal` aborts; then removes what it
 * created unless `keep`.
 */
export async function runLab(
  steps: LabStep[],
  o: SwarmLabOptions,
  io: { docker?: Docker; signal?: AbortSignal; say?: (line: string) => void; renderer?: 'default' | 'simple' | 'silent' } = {},
): Promise<LabRun> {
  const dockerRun = io.docker ?? dockerCli;
  const signal = io.signal ?? new AbortController().signal;
  const say = io.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const state: LabState = { created: { services: new Set(), network: false } };
  const results: StepResult[] = [];
  const started = Date.now();
  let reason: string | undefined;

  for (const step of steps) {
    const stepStarted = Date.now();
    const list = new Listr(
      [
        {
          title: step.title,
          // Keep the commands and their shown output under the ✓ line.
          rendererOptions: { persistentOutput: true, outputBar: Infinity },
          task: async (_ctx, task) => {
            const ctx = stepContext(o, state, dockerRun, signal, (line) => (task.output = line), (line) => (task.title = `${step.title} … ${line}`));
            try {
              const outcome = await step.run(ctx);
              task.title = `${step.title}: ${outcome.figure}`;
              results.push({ title: step.title, ok: true, figure: outcome.figure, values: outcome.values, seconds: seconds(stepStarted) });
            } catch (err) {
              const message = signal.aborted ? 'interrupted (Ctrl-C)' : (err as Error).message;
              task.title = `${step.title}: ${message}`;
              results.push({ title: step.title, ok: false, figure: message, seconds: seconds(stepStarted) });
              throw new Error(message, { cause: err });
            }
          },
        },
      ],
      {
        renderer: io.renderer ?? 'default',
        fallbackRenderer: 'simple',
        exitOnError: true,
        registerSignalListeners: false,
        rendererOptions: { icon: { COMPLETED: '✓', FAILED: '✗' }, collapseErrors: false },
        fallbackRendererOptions: { icon: { COMPLETED: '✓', FAILED: '✗' } },
      },
    );
    try {
      await list.run();
    } catch (err) {
      reason = `${step.title}: ${(err as Error).message}`;
      break;
    }
  }

  if (reason && !o.keep && (state.created.services.size || state.created.network)) {
    say('Cleaning up what the lab created (use --keep to leave it):');
    const cleanup = stepContext(o, state, dockerRun, new AbortController().signal, say, say);
    await removeAll(cleanup).catch((err: Error) => say(`cleanup failed: ${err.message}`));
  }
  return { ok: !reason, results, seconds: seconds(started), reason };
}

function stepContext(
  options: SwarmLabOptions,
  state: LabState,
  dockerRun: Docker,
  signal: AbortSignal,
  output: (line: string) => void,
  progress: (line: string) => void,
): StepContext {
  return {
    options,
    state,
    docker: dockerRun,
    signal,
    progress,
    async run(command) {
      const host = command.build ? options.buildHost : undefined;
      output(`$ docker ${shellLine(command.args)}${host ? `   (DOCKER_HOST=${host})` : ''}`);
      const out = await dockerRun(command.args, { host, signal });
      if (command.show) for (const line of out.split('\n')) output(`  ${line}`);
      return out;
    },
  };
}

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

/** The CLI: `dockercoins lab swarm`. Exits 1 with the reason when a step fails, 130 on Ctrl-C. */
export async function labSwarm(o: SwarmLabOptions & { dryRun: boolean; report?: string }): Promise<void> {
  const steps = swarmLabSteps(o);
  if (o.dryRun) {
    process.stdout.write(cheatSheet(steps, o));
    return;
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  // `on`, not `once`: execa's exit hook re-raises a signal that no other listener is left to handle.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const run = await runLab(steps, o, { signal: interrupt.signal });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (o.report) await writeFile(o.report, `${JSON.stringify(run, null, 2)}\n`);
  const minutes = `${Math.floor(run.seconds / 60)} min ${Math.round(run.seconds % 60)} s`;
  if (run.ok) {
    process.stdout.write(`\nThe Swarm chapter ran in ${minutes}: every step checked.${o.keep ? ' The app is still running (--keep).' : ''}\n`);
    return;
  }
  process.stderr.write(`\nThe lab stopped after ${minutes}: ${run.reason}\n`);
  process.exitCode = interrupt.signal.aborted ? 130 : 1;
}

/** `dockercoins lab swarm [options]`, for the CLI. */
export function labCommand(): CliCommand {
  const lab = new CliCommand('lab').description("the workshop's chapters, run and checked step by step");
  lab
    .command('swarm')
    .description('the Swarm chapter on the Swarm DOCKER_HOST points to: registry, images, services, scaling, global mode')
    .option('--registry <host:port>', 'registry the images are pushed to and pulled from', '127.0.0.1:5000')
    .option('--tag <tag>', 'image tag', 'v1')
    .option('--redis-image <image>', 'image of the redis service', 'redis')
    .option('--node-image <image>', 'build argument NODE_IMAGE (default: the Dockerfile\'s)', process.env.NODE_IMAGE)
    .addOption(new Option('--endpoint-mode <mode>', 'vip (standard) or dnsrr with host-mode ports (engines without IPVS)').choices(['vip', 'dnsrr']).default('vip'))
    .option('--port <port>', "the web UI's published port", numberOption(1, 65535), 8000)
    .option('--webui-url <url>', 'where to read the web UI (default: localhost, or the node running webui in host mode)')
    .option('--build-host <docker-host>', 'Docker engine that builds and pushes the images (default: DOCKER_HOST)')
    .option('--context <dir>', 'build context: the repository', repositoryRoot)
    .option('--window <seconds>', 'length of each hashes/s measurement', numberOption(10, 600), 15)
    .option('--health-timeout <seconds>', "give our services' health checks this long, this often (default: the images' 10 s, every 30 s)", numberOption(1, 300))
    .option('--timeout <seconds>', 'longest wait for a service to converge', numberOption(10, 3600), 180)
    .option('--min-gain <x>', "global rng must reach this multiple of the plateau (the chapter's ×3 with some slack)", numberOption(1, 10, { fractions: true }), 2.5)
    .option('--keep', 'leave the app running at the end (and after a failure)', false)
    .option('--dry-run', 'print the commands only, as a cheat sheet', false)
    .option('--report <file>', 'also write the results as JSON')
    .action(async (opts: Omit<SwarmLabOptions, 'windowSeconds' | 'timeoutSeconds'> & { window: number; timeout: number; dryRun: boolean; report?: string }) => {
      await labSwarm({ ...opts, windowSeconds: opts.window, timeoutSeconds: opts.timeout });
    });
  return lab;
}
