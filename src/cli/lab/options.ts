// The options of every chapter and of `lab all`, one set with one meaning everywhere (where the
// Swarm, the registry and the repository are, which base images and ports, how long to measure
// and wait, what to keep). An image option defaults to the environment variable the Dockerfile,
// the stack files and ../shared/tools read for it, so that one `export` serves them all.
import { Option, type Command as CliCommand, type OptionValues } from 'commander';
import { numberOption } from '../number-option.js';
import { repositoryRoot } from '../../lib/paths.js';
import type { RunnerOptions } from './runner.js';

/** The workshop's own images, when no option or variable names another. */
export const workshopImages = { redisImage: 'redis', registryImage: 'registry' } as const;
/** The registry the workshop's stack files name when REGISTRY is not set. */
export const workshopRegistry = '127.0.0.1:5000';

/** REGISTRY for the stack files where --registry is not the workshop's, and the departure it makes. */
export const registryEnv = (o: Pick<LabOptions, 'registry'>): { env: Record<string, string>; departure?: string } =>
  o.registry === workshopRegistry ? { env: {} } : { env: { REGISTRY: o.registry }, departure: 'another registry (--registry)' };

export interface LabOptions extends RunnerOptions {
  /** Where images go, as the chapters' REGISTRY. */
  registry: string;
  tag: string;
  redisImage: string;
  /** The registry service's image (the swarm chapter's service, the stacks chapter's stack). */
  registryImage: string;
  /** Build argument NODE_IMAGE (the Dockerfile's default when not given). */
  nodeImage?: string;
  /** Base of the lab's Debian stand-ins (netshoot's debug image, the GELF receiver, Prometheus); their Dockerfiles' own when not given. */
  debianImage?: string;
  /** vip: the standard; dnsrr + host-mode ports: for engines without IPVS. */
  endpointMode: 'vip' | 'dnsrr';
  /** The web UI's published port. */
  port: number;
  /** rng's and hasher's published ports (Compose publishes them). */
  rngPort: number;
  hasherPort: number;
  /** Where to read the web UI; by default found from where the port is published. */
  webuiUrl?: string;
  /** The repository root: the build context, where the workshop's commands run. */
  context: string;
  /** Window of each hashes/s measurement, seconds (the workers flush once a second). */
  windowSeconds: number;
  /** Global rng must reach this multiple of the plateau (default: the swarm chapter's claim). */
  minGain?: number;
  /** Longest wait for any one convergence, seconds. */
  timeoutSeconds: number;
}

/** Adds the options to a chapter's command, and to `lab all`. */
export function sharedOptions(command: CliCommand): CliCommand {
  return command
    .option('--registry <host:port>', 'registry the images are pushed to and pulled from', workshopRegistry)
    .option('--tag <tag>', 'image tag', 'v1')
    .option('--redis-image <image>', 'image of the redis service ($REDIS_IMAGE)', process.env.REDIS_IMAGE || workshopImages.redisImage)
    .option('--registry-image <image>', 'image of the registry service ($REGISTRY_IMAGE)', process.env.REGISTRY_IMAGE || workshopImages.registryImage)
    .option('--node-image <image>', "build argument NODE_IMAGE ($NODE_IMAGE; default: the Dockerfile's)", process.env.NODE_IMAGE || undefined)
    .option('--debian-image <image>', "base of the lab's Debian stand-ins: netshoot's debug image, the GELF receiver, Prometheus ($DEBIAN_IMAGE; default: their Dockerfiles')", process.env.DEBIAN_IMAGE || undefined)
    .addOption(new Option('--endpoint-mode <mode>', 'vip (standard) or dnsrr with host-mode ports (engines without IPVS)').choices(['vip', 'dnsrr']).default('vip'))
    .option('--port <port>', "the web UI's published port", numberOption(1, 65535), 8000)
    .option('--rng-port <port>', "rng's published port (Compose)", numberOption(1, 65535), 8001)
    .option('--hasher-port <port>', "hasher's published port (Compose)", numberOption(1, 65535), 8002)
    .option('--webui-url <url>', 'where to read the web UI (default: localhost, or the node running webui in host mode)')
    .option('--build-host <docker-host>', 'Docker engine that builds and pushes the images, and runs Compose (default: DOCKER_HOST); needed where the Swarm\'s manager cannot build or reach a registry')
    .option('--context <dir>', 'the repository: build context, where the commands run', repositoryRoot)
    .option('--window <seconds>', 'length of each hashes/s measurement', numberOption(10, 600), 15)
    .option('--min-gain <x>', 'global rng must reach this multiple of the plateau (default: 5/6 × the number of nodes)', numberOption(1, 10, { fractions: true }))
    .option('--timeout <seconds>', 'longest wait for a service to converge', numberOption(10, 3600), 180)
    .option('--keep', 'leave the app running at the end (and after a failure)', false)
    .option('--dry-run', 'print the commands only, as a cheat sheet', false)
    .option('--report <file>', 'also write the results as JSON');
}

/** Commander's values (--window, --timeout) as the chapters read them. */
export const labOptions = <O extends OptionValues>(values: O) =>
  ({ ...values, windowSeconds: values.window as number, timeoutSeconds: values.timeout as number }) as O & LabOptions & { dryRun: boolean; report?: string };

/** The base-image options set away from the workshop's, named for a departure note ('' when none is). */
export function imageOptionsSet(o: LabOptions, which: ('nodeImage' | 'redisImage' | 'registryImage')[]): string[] {
  const flags = { nodeImage: '--node-image', redisImage: '--redis-image', registryImage: '--registry-image' } as const;
  return which.filter((k) => (k === 'nodeImage' ? Boolean(o.nodeImage) : o[k] !== workshopImages[k])).map((k) => flags[k]);
}
