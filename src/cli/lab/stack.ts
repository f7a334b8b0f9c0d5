// The dockercoins stack, for every chapter that deploys or operates it: its name, services and
// network, the one `docker stack deploy` of stacks/ (with the variables its files read and why
// they differ from the workshop's), where its web UI answers, how long to wait, and the actions
// that wait for it and remove it.
import { existing, publishedUrl, swarmNodes, type Docker } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { imageOptionsSet, registryEnv, workshopImages, type LabOptions } from './options.js';
import type { Action, Command, Play } from './script.js';

export const stack = 'dockercoins';
export const registryStack = 'registry';
export const stackServices = ['redis', 'rng', 'hasher', 'webui', 'worker'] as const;
export type StackService = (typeof stackServices)[number];
/** `dockercoins_hasher`: the names `docker stack deploy` gives, which the workshop types. */
export const service = (name: StackService) => `${stack}_${name}`;
/** A stack's network (no `networks:` in the stack files: Compose's default). */
export const stackNetwork = (name = stack) => `${name}_default`;

/** What the lab's own queries need: the options, the docker CLI, the signal, a progress line. */
export type Probe = Pick<Play, 'options' | 'docker' | 'signal' | 'progress'>;

export const waitOptions = (p: Probe) => ({ timeoutMs: p.options.timeoutSeconds * 1000, signal: p.signal, progress: p.progress });

/** Where the web UI service `name` answers: every node's port (ingress), or the node that runs it (host mode); asked again after anything that may move its task. */
export const webuiAt = (p: Probe, name: string) =>
  p.options.webuiUrl ? Promise.resolve(p.options.webuiUrl) : publishedUrl(p.docker, name, p.options.port, p.options.endpointMode === 'dnsrr' ? 'host' : 'ingress', p.signal);

/** The stack's web UI. */
export const webuiUrl = (p: Probe) => webuiAt(p, service('webui'));

/** The variables the stack files read beyond TAG, only where the options differ from the workshop's, and why. */
export function stackEnv(o: LabOptions, tag?: string): { env: Record<string, string>; departure?: string } {
  const registry = registryEnv(o);
  const env: Record<string, string> = { ...(tag ? { TAG: tag } : {}), ...registry.env };
  const why: string[] = registry.departure ? [registry.departure] : [];
  if (o.port !== 8000) {
    env.WEBUI_PORT = String(o.port);
    why.push("another web UI port (--port): the workshop's is taken here");
  }
  if (o.nodeImage) env.NODE_IMAGE = o.nodeImage;
  if (o.redisImage !== workshopImages.redisImage) env.REDIS_IMAGE = o.redisImage;
  const set = imageOptionsSet(o, ['nodeImage', 'redisImage']);
  if (set.length) why.push(`other base images (${set.join(', ')}): no registry is reachable here`);
  return { env, departure: why.join('; ') || undefined };
}

/** `docker-compose -f dockercoins.yml <verb>` in stacks/, on the build engine. */
export const composeInStacks = (o: LabOptions, verb: string, tag?: string): Command => {
  const { env, departure } = stackEnv(o, tag);
  return { program: 'docker-compose', args: ['-f', 'dockercoins.yml', verb], env, dir: 'stacks', build: true, departure };
};

/**
 * `docker stack deploy` in stacks/, as the page types it (`--compose-file` or `-c`), with
 * no-ipvs.yml for engines without IPVS and the chapter's own override files on top.
 */
export function deployStack(o: LabOptions, { tag, flag = '--compose-file', extra = [] }: { tag?: string; flag?: string; extra?: string[] } = {}): Command {
  const { env, departure } = stackEnv(o, tag);
  const dnsrr = o.endpointMode === 'dnsrr';
  const files = ['dockercoins.yml', ...(dnsrr ? ['no-ipvs.yml'] : []), ...extra];
  const why = [departure, dnsrr ? 'no-ipvs.yml on top (--endpoint-mode dnsrr): dnsrr and a host-mode port, this engine has no IPVS' : undefined].filter(Boolean);
  return { args: ['stack', 'deploy', ...files.flatMap((f) => [flag, f]), stack], env, dir: 'stacks', departure: why.join('; ') || undefined };
}

/** Waits until every service of the stack runs all its tasks (`docker service ls`: n/n, n > 0); returns the counts. */
export async function waitForStack(p: Probe): Promise<Record<string, string>> {
  return waitUntil(
    `every service of ${stack} to run all its tasks`,
    async () => {
      const out = await p.docker(['service', 'ls', '--filter', `label=com.docker.stack.namespace=${stack}`, '--format', '{{.Name}}\t{{.Replicas}}'], { signal: p.signal });
      const replicas = Object.fromEntries(out.split('\n').filter(Boolean).map((line) => line.split('\t') as [string, string]));
      const missing = stackServices.filter((s) => !replicas[service(s)]);
      const short = Object.values(replicas).filter((r) => {
        const [running, wanted] = r.split(' ')[0]!.split('/');
        return running !== wanted || wanted === '0';
      });
      const summary = Object.entries(replicas).map(([name, r]) => `${name.slice(stack.length + 1)} ${r}`).join(', ');
      p.progress(summary || 'no service yet');
      if (missing.length) throw new Error(`missing ${missing.join(', ')}`);
      if (short.length) throw new Error(summary);
      return replicas;
    },
    { ...waitOptions(p), progress: undefined },
  );
}

/** Tasks a service of the stack runs, from waitForStack's counts ("3/3 (max 1 per node)"). */
export const running = (replicas: Record<string, string>, name: StackService) => Number(replicas[service(name)]?.split('/')[0] ?? 0);

/** HOSTNAME: the node the docker CLI talks to (docker info), where `docker run` and `docker exec` run. */
export const cliNode: Action = {
  do: 'measure',
  what: 'HOSTNAME: the node the docker CLI talks to (docker info)',
  async measure(p) {
    p.vars.HOSTNAME = (await p.docker(['info', '--format', '{{.Name}}'], { signal: p.signal })).trim();
    return {};
  },
};

/** Ready nodes, failing when one is not: every chapter starts on a whole Swarm. */
export async function readyNodes(p: Probe): Promise<number> {
  const nodes = await swarmNodes(p.docker, p.signal);
  const ready = nodes.filter((n) => n.ready).length;
  if (ready < nodes.length) throw new Failure(`${nodes.length - ready} of ${nodes.length} nodes are not Ready`);
  return ready;
}

/** Whether any service of these stacks is left (`docker stack ls` lists a stack while one is). */
export async function stacksLeft(docker: Docker, names: string[], signal?: AbortSignal): Promise<string[]> {
  const services = await existing(docker, 'service', [...names.map((n) => `${n}_registry`), ...stackServices.map(service)], signal);
  return names.filter((n) => services.some((s) => s.startsWith(`${n}_`)));
}

/** `docker stack rm`, then the wait for the stacks' networks: a deploy right after would find them half-removed. */
export const removeStacks = (...names: string[]): Action[] => [
  { do: 'run', command: { args: ['stack', 'rm', ...names] }, settles: names },
  {
    do: 'wait',
    for: `the networks of ${names.join(', ')} to be gone`,
    until: (p) => waitUntil('the stacks to be gone', async () => ((await existing(p.docker, 'network', names.map(stackNetwork), p.signal)).length ? undefined : true), waitOptions(p)).then(() => {}),
  },
];

/** The TAG the stack was last deployed with (v0.2 after the update chapter): the worker's, whose image no chapter changes by itself. */
export async function deployedTag(p: Probe): Promise<string> {
  const image = await p.docker(['service', 'inspect', service('worker'), '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'], { signal: p.signal }).catch(() => '');
  return /:([\w][\w.-]*)(@|$)/.exec(image.trim().split('/').at(-1) ?? '')?.[1] ?? p.options.tag;
}
