// Removes what the check made on a cluster (its services, its stack, its network, and the tags it
// put on the build engine), whichever step it reached, and checks that none of it is left.
import { existing } from '../swarm.js';
import { waitUntil } from '../../lib/wait.js';
import type { CheckContext } from './context.js';

export async function cleanUp(ctx: CheckContext, images: string[]): Promise<string> {
  const { pullService, overlayService, hashService, overlayNetwork, stack } = ctx.names;
  const ours = [pullService, overlayService, hashService];
  const list = async (kind: 'service' | 'network') =>
    kind === 'service'
      ? (await ctx.docker(['service', 'ls', '--format', '{{.Name}}'])).split('\n').filter((s) => ours.includes(s) || s.startsWith(`${stack}_`))
      : existing(ctx.docker, 'network', [overlayNetwork, `${stack}_default`], ctx.signal);
  const services = await list('service');
  const loose = services.filter((s) => ours.includes(s));
  if (loose.length) await ctx.docker(['service', 'rm', ...loose]);
  if (services.some((s) => s.startsWith(`${stack}_`))) await ctx.docker(['stack', 'rm', stack]);
  // A network is removed once its tasks are gone, and Swarm removes the stack's own a moment
  // after its services: remove ours until none is listed.
  await waitUntil(
    'the services and networks of the check to be gone',
    async () => {
      if ((await list('service')).length) throw new Error('services still listed');
      const left = await list('network');
      if (left.length === 0) return true;
      await ctx.docker(['network', 'rm', ...left]).catch(() => {});
      throw new Error(`networks still listed: ${left.join(', ')}`);
    },
    { timeoutMs: ctx.o.stepSeconds * 1000, everyMs: 2000, signal: ctx.signal, progress: ctx.progress },
  );
  // Missing tags (a step never reached) make `image rm` fail after removing the others.
  await ctx.build(['image', 'rm', '--no-prune', ctx.probe, ...images]).catch(() => {});
  return `removed ${services.length} service(s) and the check's networks; untagged its images on the build engine`;
}
