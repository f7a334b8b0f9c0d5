// What the chapters that deploy DockerCoins as a stack share: its name and services, the
// variables and files `docker-compose` and `docker stack deploy` read in stacks/ (with why they
// differ from the workshop's), where its web UI answers, and how the stacks are removed.
import { existing, publishedUrl, waitForTasks, swarmNodes, type Docker } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import type { Command, StepContext } from './runner.js';

export const stack = 'dockercoins';
export const registryStack = 'registry';
export const stackServices = ['redis', 'rng', 'hasher', 'webui', 'worker'] as const;
export const service = (name: string) => `${stack}_${name}`;

export interface StackState {
  /** Stacks the chapter deployed, to remove on failure or Ctrl-C. */
  deployed: Set<string>;
}

export type StackContext = StepContext<LabOptions, StackState>;

/** The variables the stack file reads, beyond TAG: only where the options differ from the workshop's. */
export function stackEnv(o: LabOptions, tag?: string): { env: Record<string, string>; departure?: string } {
  const env: Record<string, string> = tag ? { TAG: tag } : {};
  const why: string[] = [];
  if (o.registry !== '127.0.0.1:5000') {
    env.REGISTRY = o.registry;
    why.push('another registry (--registry)');
  }
  if (o.nodeImage) env.NODE_IMAGE = o.nodeImage;
  if (o.redisImage !== 'redis') env.REDIS_IMAGE = o.redisImage;
  if (o.nodeImage || o.redisImage !== 'redis') why.push('other base images (--node-image, --redis-image): no registry is reachable here');
  return { env, departure: why.join('; ') || undefined };
}

/** `docker-compose -f dockercoins.yml <verb>` in stacks/, on the build engine. */
export const composeInStacks = (o: LabOptions, verb: string, tag?: string): Command => {
  const { env, departure } = stackEnv(o, tag);
  return { program: 'docker-compose', args: ['-f', 'dockercoins.yml', verb], env, dir: 'stacks', build: true, departure };
};

/** `docker stack deploy`, with the override for engines without IPVS where asked. */
export function deployStack(o: LabOptions, tag?: string, flag = '--compose-file'): Command {
  const { env, departure } = stackEnv(o, tag);
  const dnsrr = o.endpointMode === 'dnsrr';
  const why = [departure, dnsrr ? 'no-ipvs.yml on top (--endpoint-mode dnsrr): dnsrr and a host-mode port, this engine has no IPVS' : undefined].filter(Boolean);
  return {
    args: ['stack', 'deploy', flag, 'dockercoins.yml', ...(dnsrr ? [flag, 'no-ipvs.yml'] : []), stack],
    env,
    dir: 'stacks',
    departure: why.join('; ') || undefined,
  };
}

/** Where the web UI answers: every node's port (ingress), or the node that runs it (host mode). */
export const webuiUrl = (ctx: StackContext) =>
  ctx.options.webuiUrl ? Promise.resolve(ctx.options.webuiUrl) : publishedUrl(ctx.docker, service('webui'), 8000, ctx.options.endpointMode === 'dnsrr' ? 'host' : 'ingress', ctx.signal);

export const waitOptions = (ctx: StackContext) => ({ timeoutMs: ctx.options.timeoutSeconds * 1000, signal: ctx.signal, progress: ctx.progress });

/** Waits for every service of the stack: rng on each Ready node, 10 workers, one of the others. */
export async function waitForStack(ctx: StackContext): Promise<{ nodes: number; rng: number; worker: number }> {
  const nodes = (await swarmNodes(ctx.docker, ctx.signal)).filter((n) => n.ready).length;
  for (const [name, count] of [['redis', 1], ['hasher', 1], ['webui', 1], ['worker', 10]] as const) await waitForTasks(ctx.docker, service(name), count, waitOptions(ctx));
  const rng = await waitForTasks(ctx.docker, service('rng'), nodes, { ...waitOptions(ctx), perNode: true });
  return { nodes, rng: rng.length, worker: 10 };
}

/** Stacks with a service left: `docker stack ls` lists a stack while any of its services is there. */
export async function stacksLeft(docker: Docker, names: string[], signal?: AbortSignal): Promise<string[]> {
  const services = await existing(docker, 'service', [...names.map((n) => `${n}_registry`), ...stackServices.map(service)], signal);
  return names.filter((n) => services.some((s) => s.startsWith(`${n}_`)));
}

/** Removes the stacks the chapter deployed, and waits until their networks are gone too. */
export async function removeStacks(ctx: StackContext): Promise<string[]> {
  const names = [...ctx.state.deployed];
  if (!names.length) return [];
  await ctx.run({ args: ['stack', 'rm', ...names] });
  await waitUntil(
    'the stacks to be gone',
    async () => ((await existing(ctx.docker, 'network', names.map((n) => `${n}_default`), ctx.signal)).length ? undefined : true),
    waitOptions(ctx),
  );
  ctx.state.deployed.clear();
  return names;
}

/** For the chapters that start from the stacks chapter's app: fails with what to run first. */
export async function stackRunning(ctx: StackContext): Promise<void> {
  const present = await existing(ctx.docker, 'service', stackServices.map(service), ctx.signal);
  if (present.length < stackServices.length) throw new Failure(`the ${stack} stack is not running (${present.length} of its ${stackServices.length} services): run dockercoins lab stacks first`);
}
