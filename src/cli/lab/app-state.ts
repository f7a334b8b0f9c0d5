// What the chapters that operate the running app share (netshoot, rolling, healthcheck,
// stateful): their options, the stack they work on (`dockercoins`, as the workshop's stacks
// chapter deploys it), the step that finds it running (or deploys it), what they remember
// while they run, and how they undo what they changed when they stop early.
import { existing, swarmNodes, waitForClimbing } from '../swarm.js';
import { service, stack, stackNetwork as stackNetworkOf, stackServices, waitForStack, waitOptions, webuiUrl } from './stack.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { cheatSheet, runSteps, type Chapter, type Command, type LabStep, type StepContext } from './old-runner.js';

export { deployedTag, service, stack, waitForStack, waitOptions, webuiUrl } from './stack.js';
export const stackNetwork = stackNetworkOf();

export type AppLabOptions = LabOptions;

/** What steps share while a chapter runs. */
export interface AppState {
  /** The chapter deployed the stack itself (it was not running): removed on failure. */
  deployedStack: boolean;
  /** Services the chapter created (the debug container), removed on failure. */
  services: Set<string>;
  /** Commands that put back what the chapter changed (workers scaled to 0), run in reverse on failure. */
  undo: Command[];
  /** Figures a later step compares with. */
  figures: Record<string, number>;
}

export const newAppState = (): AppState => ({ deployedStack: false, services: new Set(), undo: [], figures: {} });

export type AppStepContext = StepContext<AppLabOptions, AppState>;
export type AppLabStep = LabStep<AppLabOptions, AppState>;

export const docker = (...args: string[]): Command => ({ args });
/** A command that differs from the workshop's literal one, and why. */
export const departs = (c: Command, ...why: string[]): Command => ({ ...c, departure: why.join('; ') });
export const detached = '--detach: the lab waits for the tasks itself, with its own progress line';
/** The workshop's shell variables (`$CID`, `$HOSTNAME`) in a command, filled in when it runs. */
export const withVars = (c: Command, vars: Record<string, string>): Command => ({ ...c, args: c.args.map((a) => a.replace(/\$(\w+)/g, (m, k: string) => vars[k] ?? m)) });

/** `docker stack deploy` of stacks/dockercoins.yml (+ no-ipvs.yml and `extra` override files). */
export function deployStack(o: AppLabOptions, ...extra: string[]): Command {
  const files = ['stacks/dockercoins.yml', ...(o.endpointMode === 'dnsrr' ? ['stacks/no-ipvs.yml'] : []), ...extra];
  return {
    args: ['stack', 'deploy', ...files.flatMap((f) => ['-c', f]), stack],
    env: { REGISTRY: o.registry, TAG: o.tag, REDIS_IMAGE: o.redisImage },
    ...(o.endpointMode === 'dnsrr' ? { departure: 'stacks/no-ipvs.yml: DNS round robin and a host-mode port, for engines without IPVS' } : {}),
  };
}

/** The first step of every chapter here: the workshop has the app running from its stacks chapter. */
export function runningAppStep(o: AppLabOptions): AppLabStep {
  return {
    title: 'The app on the Swarm',
    commands: [deployStack(o), { args: ['stack', 'services', stack], show: true }],
    expect: `the ${stack} stack runs every task (deployed here only if it is not running: the workshop deploys it in its stacks chapter); the hash counter climbs`,
    async run(ctx) {
      const nodes = await swarmNodes(ctx.docker, ctx.signal);
      if (nodes.some((n) => !n.ready)) throw new Failure(`${nodes.filter((n) => !n.ready).length} of ${nodes.length} nodes are not Ready`);
      const running = await existing(ctx.docker, 'service', stackServices.map(service), ctx.signal);
      if (running.length < stackServices.length) {
        if (running.length) throw new Failure(`the ${stack} stack is incomplete (${running.join(', ')}); remove it: docker stack rm ${stack}`);
        ctx.state.deployedStack = true;
        await ctx.run(this.commands[0]!);
      }
      await ctx.run(this.commands[1]!);
      await waitForStack(ctx);
      const url = await webuiUrl(ctx);
      const later = await waitForClimbing(url, waitOptions(ctx));
      const how = ctx.state.deployedStack ? 'deployed' : 'already running';
      return { figure: `${stack} ${how} on ${nodes.length} nodes; ${url}/json: ${later.hashes} hashes, climbing`, values: { nodes: nodes.length, deployed: String(ctx.state.deployedStack), hashes: later.hashes } };
    },
  };
}

/** On failure or Ctrl-C: what the chapter created goes, what it changed comes back (all of the stack, if it deployed it). */
export async function undoAll(ctx: AppStepContext): Promise<string[]> {
  const done: string[] = [];
  const services = await existing(ctx.docker, 'service', [...ctx.state.services]);
  if (services.length) {
    await ctx.run(docker('service', 'rm', ...services));
    done.push(...services);
  }
  if (ctx.state.deployedStack) {
    await ctx.run(docker('stack', 'rm', stack));
    // `stack rm` returns before the network goes: a deploy right after would find it half-removed.
    await waitUntil(`the ${stack} stack to be gone`, async () => ((await existing(ctx.docker, 'network', [stackNetwork])).length ? undefined : true), waitOptions(ctx));
    done.push(`the ${stack} stack`);
  } else {
    for (const command of ctx.state.undo.reverse()) {
      await ctx.run(command);
      done.push(command.args.join(' '));
    }
  }
  ctx.state.services.clear();
  ctx.state.undo = [];
  ctx.state.deployedStack = false;
  return done;
}

export const needsUndo = (s: AppState) => s.deployedStack || s.services.size > 0 || s.undo.length > 0;

/**
 * A chapter of steps on the running app, its cheat sheet headed by its name and `subtitle`; a run
 * that stops early undoes what it changed.
 */
export function appChapter(name: string, steps: AppLabStep[], o: AppLabOptions, subtitle = ''): Chapter {
  return {
    name,
    cheatSheet: () => cheatSheet(`${name}${subtitle} (stack ${stack}, endpoint mode ${o.endpointMode})`, steps, o),
    run: (io) => runSteps(steps, o, newAppState(), { needed: needsUndo, run: undoAll }, io),
  };
}
