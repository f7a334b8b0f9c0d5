// What the Swarm chapter works with: its options, the names of what it creates (services and a
// network), what it remembers while it runs, and how it removes what it created.
import { existing } from '../swarm.js';
import { waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import type { Command, LabStep, StepContext } from './runner.js';

/** The chapter's order. */
export const appServices = ['hasher', 'rng', 'webui', 'worker'] as const;
export const network = 'dockercoins';
export const registryService = 'registry';
/** One rng instance answers 10 requests/s (100 ms each, one at a time): the chapter's plateau. */
export const expectedPlateau = 10;
/** One worker: one hash every 0.3 s (100 ms of rng, 100 ms of hasher, 100 ms of its own pause). */
export const oneWorkerRate = 10 / 3;
/**
 * The chapter's claim for global rng: the speed grows about with the number of nodes. The lab
 * asks 2.5× on 3 nodes (5/6 of a node's worth each): some slack for a busy host.
 */
export const minGain = (o: SwarmLabOptions, nodes: number) => o.minGain ?? (nodes * 2.5) / 3;

export interface SwarmLabOptions extends LabOptions {
  /** Global rng must reach this multiple of the plateau (default: the chapter's claim, see minGain). */
  minGain?: number;
}

/** What steps share while the lab runs. */
export interface LabState {
  plateau?: number;
  /** Services and networks the lab created, to remove on failure or Ctrl-C. */
  created: { services: Set<string>; network: boolean };
}

export type SwarmStepContext = StepContext<SwarmLabOptions, LabState>;
export type SwarmLabStep = LabStep<SwarmLabOptions, LabState>;

export const docker = (...args: string[]): Command => ({ args });

/**
 * Removes what the lab created (whatever step it stopped at): services first, then the network,
 * once their tasks have let go of it.
 */
export async function removeAll(ctx: SwarmStepContext): Promise<string[]> {
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
