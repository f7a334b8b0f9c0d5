// The app on a cluster: its images built and pushed to the cluster's registry (the redis image
// too, so the nodes need no other registry), deployed as a stack from stacks/ (with the no-IPVS
// override for --endpoint-mode dnsrr), until the web UI's /json counts a first hash.
import path from 'node:path';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { CheckContext } from './context.js';

const built = ['rng', 'hasher', 'webui', 'worker'];

/** The variables stacks/dockercoins.yml reads, for this cluster. */
function stackEnv(ctx: CheckContext): Record<string, string> {
  return {
    REGISTRY: ctx.registry,
    TAG: ctx.names.tag,
    REDIS_IMAGE: redisInRegistry(ctx),
    ...(ctx.o.nodeImage ? { NODE_IMAGE: ctx.o.nodeImage } : {}),
  };
}
const redisInRegistry = (ctx: CheckContext) => `${ctx.registry}/${ctx.names.probeRepo}-redis:${ctx.names.tag}`;

/** The images of the app, and the redis image, in the cluster's registry. */
export async function buildApp(ctx: CheckContext): Promise<string> {
  const cwd = path.join(ctx.o.context, 'stacks');
  const env = stackEnv(ctx);
  ctx.progress('building the images (docker-compose build)');
  await ctx.build(['-f', 'dockercoins.yml', 'build', ...built], { program: 'docker-compose', env, cwd });
  ctx.progress('pushing the images (docker-compose push)');
  await ctx.build(['-f', 'dockercoins.yml', 'push', ...built], { program: 'docker-compose', env, cwd });
  // The build engine may not have the redis image yet (a fresh manager): pulled first then.
  await ctx.build(['image', 'inspect', ctx.o.redisImage]).catch(() => ctx.build(['pull', ctx.o.redisImage]));
  await ctx.build(['tag', ctx.o.redisImage, redisInRegistry(ctx)]);
  await ctx.build(['push', redisInRegistry(ctx)]);
  return `${built.length + 1} images in ${ctx.registry} (tag ${ctx.names.tag})`;
}

/** The images this check tagged on the build engine, to untag at cleanup. */
export const appImages = (ctx: CheckContext) => [...built.map((s) => `${ctx.registry}/${s}:${ctx.names.tag}`), redisInRegistry(ctx)];

const hashProbe = `while :; do timeout 5 wget -q -O- http://webui/json; echo; sleep 2; done`;

/** Deploys the stack and waits for the web UI (asked from a task on the stack's network) to count a hash. */
export async function deployApp(ctx: CheckContext): Promise<string> {
  const { stack, hashService } = ctx.names;
  const files = ['-c', 'dockercoins.yml', ...(ctx.o.endpointMode === 'dnsrr' ? ['-c', 'no-ipvs.yml'] : [])];
  await ctx.docker(['stack', 'deploy', ...files, stack], { env: stackEnv(ctx), cwd: path.join(ctx.o.context, 'stacks') });
  await ctx.docker(['service', 'create', '--detach', '--quiet', '--name', hashService, '--network', `${stack}_default`, ctx.probe, 'sh', '-c', hashProbe]);
  try {
    const hashes = await waitUntil(
      `a first hash counted by ${stack}`,
      async () => {
        const out = await ctx.docker(['service', 'logs', '--raw', '--tail', '5', hashService], { signal: ctx.signal });
        const answers = out.split('\n').filter((l) => l.startsWith('{'));
        const last = answers.at(-1);
        if (!last) throw new Error('the web UI has not answered yet');
        const body = JSON.parse(last) as { hashes?: string | null };
        const count = Number(body.hashes ?? 0);
        ctx.progress(`the web UI answers, hashes ${count}`);
        if (count > 0) return count;
        throw new Error(`the web UI answers /json with hashes ${count}`);
      },
      { timeoutMs: ctx.o.stepSeconds * 1000, everyMs: 2000, signal: ctx.signal, progress: ctx.progress },
    );
    return `webui /json counts ${hashes} hash(es)`;
  } catch (err) {
    if (!(err instanceof Failure)) throw err;
    throw new Failure(`${err.message}${await taskErrors(ctx)}`);
  }
}

/** Why the stack's tasks are not running, from `docker stack ps`, as `; task: error`. */
async function taskErrors(ctx: CheckContext): Promise<string> {
  const out = await ctx
    .docker(['stack', 'ps', ctx.names.stack, '--no-trunc', '--format', '{{.Name}}\t{{.CurrentState}}\t{{.Error}}'])
    .catch(() => '');
  const errors = out.split('\n').filter((l) => l.split('\t')[2]);
  return errors.length ? `; ${[...new Set(errors.map((l) => l.replace(/\t.*\t/, ': ')))].slice(0, 3).join('; ')}` : '';
}
