// What every check of one cluster works with: the cluster's docker CLI and the build engine's,
// each command bounded by the step's time and remembered (the report names the command that
// failed), and the names of what the check makes there, so that cleanup removes exactly those.
import { dockerCli, shellLine, type Docker, type DockerRunOptions } from '../swarm.js';
import type { ClusterEntry } from './clusters-file.js';

export interface CheckOptions {
  concurrency: number;
  /** Nodes every cluster must have Ready, if given. */
  nodes?: number;
  /** Where images go, unless the cluster's line names its own. */
  registry: string;
  redisImage: string;
  /** Build argument NODE_IMAGE (the Dockerfile's default when not given). */
  nodeImage?: string;
  /** Base of the small image built, pushed and pulled on every node; runs the probes. */
  probeImage: string;
  /** Engine that builds and pushes; by default each cluster's own. */
  buildHost?: string;
  endpointMode: 'vip' | 'dnsrr';
  /** The repository root: the build context of the app's images. */
  context: string;
  /** Longest time of one step, seconds. */
  stepSeconds: number;
}

/** Names of what the check makes on a cluster; one run's suffix keeps them apart from anything else. */
export function madeNames(run: string) {
  return {
    probeRepo: 'dockercoins-check',
    tag: `check-${run}`,
    pullService: `check-pull-${run}`,
    overlayService: `check-overlay-${run}`,
    overlayNetwork: `check-net-${run}`,
    stack: `dccheck-${run}`,
    hashService: `check-hash-${run}`,
  };
}
export type MadeNames = ReturnType<typeof madeNames>;

export interface CheckContext {
  cluster: ClusterEntry;
  o: CheckOptions;
  names: MadeNames;
  registry: string;
  /** The probe image as the nodes pull it. */
  probe: string;
  /** docker on the cluster (its manager). */
  docker: Docker;
  /** docker (or docker-compose) on the build engine. */
  build: Docker;
  signal: AbortSignal;
  progress(line: string): void;
  /** The last command run, as the report shows it. */
  lastCommand?: string;
}

/** How the docker CLI reaches a cluster: DOCKER_HOST for a URL, DOCKER_CONTEXT for a context name. */
export function clusterTarget(cluster: ClusterEntry): Pick<DockerRunOptions, 'host' | 'env'> {
  return cluster.kind === 'url' ? { host: cluster.host } : { env: { DOCKER_HOST: '', DOCKER_CONTEXT: cluster.host } };
}

const prefix = (target: Pick<DockerRunOptions, 'host' | 'env'>) =>
  target.host ? `DOCKER_HOST=${target.host} ` : target.env?.DOCKER_CONTEXT ? `DOCKER_CONTEXT=${target.env.DOCKER_CONTEXT} ` : '';

/** A docker CLI bound to `target` and to the context's signal, that records each command. */
export function boundDocker(ctx: Pick<CheckContext, 'signal' | 'lastCommand'>, target: Pick<DockerRunOptions, 'host' | 'env'>): Docker {
  return (args, options = {}) => {
    const env = { ...target.env, ...options.env };
    const vars = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v} `).join('');
    ctx.lastCommand = `${prefix(target)}${vars}${options.program ?? 'docker'} ${shellLine(args)}`;
    return dockerCli(args, { ...options, host: target.host, env, signal: ctx.signal });
  };
}
