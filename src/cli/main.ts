#!/usr/bin/env node
// The project's command line: `dockercoins start` runs the app locally; `dockercoins lab swarm`
// runs the workshop's Swarm chapter on a Swarm.
import { Command } from 'commander';
import { checkCommand } from './check/command.js';
import { labCommand } from './lab/command.js';
import { runLocal } from './local.js';
import { numberOption } from './number-option.js';

const program = new Command('dockercoins').description('DockerCoins, the container.training demo app');

program
  .command('start', { isDefault: true })
  .description('run the whole app on this machine (no Docker needed)')
  .option('-w, --workers <n>', 'number of workers', numberOption(0, 200), 1)
  .option('-r, --rng <n>', 'number of rng instances', numberOption(1, 20), 1)
  // localhost: fastify listens on each of its addresses, ::1 and 127.0.0.1 where it has both.
  .option('--host <address>', 'address to listen on', 'localhost')
  .option('--port <port>', 'webui port (rng and hasher use the next two)', numberOption(1, 65533), 8000)
  .action(async (opts: { workers: number; rng: number; host: string; port: number }) => {
    await runLocal({
      workers: opts.workers,
      rng: opts.rng,
      host: opts.host,
      webuiPort: opts.port,
      rngPort: opts.port + 1,
      hasherPort: opts.port + 2,
    });
  });

program.addCommand(labCommand().addCommand(checkCommand()));

await program.parseAsync();
