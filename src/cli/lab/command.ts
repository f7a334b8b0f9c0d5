// `dockercoins lab <chapter>`: the commander wiring of each chapter's options.
import { Command as CliCommand, Option } from 'commander';
import { numberOption } from '../number-option.js';
import { repositoryRoot } from '../../lib/paths.js';
import { runChapter } from './runner.js';
import { swarmChapter } from './swarm-chapter.js';
import type { SwarmLabOptions } from './swarm-state.js';

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
      const o = { ...opts, windowSeconds: opts.window, timeoutSeconds: opts.timeout };
      await runChapter(swarmChapter(o), o);
    });
  return lab;
}
