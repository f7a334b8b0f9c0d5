// The options every chapter shares (where the Swarm, the registry and the repository are, how
// long to measure and wait, what to keep), as `dockercoins lab <chapter>` and `lab all` take them.
import { Option, type Command as CliCommand, type OptionValues } from 'commander';
import { numberOption } from '../number-option.js';
import { repositoryRoot } from '../../lib/paths.js';
import type { RunnerOptions } from './runner.js';

export interface LabOptions extends RunnerOptions {
  /** Where images go, as the chapters' REGISTRY. */
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
  /** The repository root: the build context, where the workshop's commands run. */
  context: string;
  /** Window of each hashes/s measurement, seconds (the workers flush once a second). */
  windowSeconds: number;
  /** Overrides the images' health check timing (10 s timeout, every 30 s), seconds. */
  healthTimeout?: number;
  /** Longest wait for any one convergence, seconds. */
  timeoutSeconds: number;
}

/** Adds the shared options to a chapter's command (and to `lab all`). */
export function sharedOptions(command: CliCommand): CliCommand {
  return command
    .option('--registry <host:port>', 'registry the images are pushed to and pulled from', '127.0.0.1:5000')
    .option('--tag <tag>', 'image tag', 'v1')
    .option('--redis-image <image>', 'image of the redis service', 'redis')
    .option('--node-image <image>', "build argument NODE_IMAGE (default: the Dockerfile's)", process.env.NODE_IMAGE)
    .addOption(new Option('--endpoint-mode <mode>', 'vip (standard) or dnsrr with host-mode ports (engines without IPVS)').choices(['vip', 'dnsrr']).default('vip'))
    .option('--port <port>', "the web UI's published port", numberOption(1, 65535), 8000)
    .option('--webui-url <url>', 'where to read the web UI (default: localhost, or the node running webui in host mode)')
    .option('--build-host <docker-host>', 'Docker engine that builds and pushes the images, and runs Compose (default: DOCKER_HOST)')
    .option('--context <dir>', 'the repository: build context, where the commands run', repositoryRoot)
    .option('--window <seconds>', 'length of each hashes/s measurement', numberOption(10, 600), 15)
    .option('--health-timeout <seconds>', "give our services' health checks this long, this often (default: the images' 10 s, every 30 s)", numberOption(1, 300))
    .option('--timeout <seconds>', 'longest wait for a service to converge', numberOption(10, 3600), 180)
    .option('--keep', 'leave the app running at the end (and after a failure)', false)
    .option('--dry-run', 'print the commands only, as a cheat sheet', false)
    .option('--report <file>', 'also write the results as JSON');
}

/** Commander's values (--window, --timeout) as the chapters read them. */
export const labOptions = <O extends OptionValues>(values: O) =>
  ({ ...values, windowSeconds: values.window as number, timeoutSeconds: values.timeout as number }) as O & LabOptions & { dryRun: boolean; report?: string };
