// The workshop's stacks chapters (swarmready, stacks), as their pages read: the registry as a
// stack, the images built and pushed with docker-compose, the app deployed with `docker stack
// deploy`, what `docker stack ps` and `services` show, and the promise: rng on every node, 10
// workers, the speed above one rng's plateau. Leaves the stack running for the next chapters.
import { existing, measureRate, readCounters, swarmNodes } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { cheatSheet, runSteps, type Chapter, type Command, type LabStep } from './runner.js';
import { expectedPlateau } from './swarm-state.js';
import {
  composeInStacks,
  deployStack,
  registryStack,
  removeStacks,
  stack,
  stacksLeft,
  waitForStack,
  waitOptions,
  webuiUrl,
  type StackContext,
  type StackState,
} from './stack.js';

type Step = LabStep<LabOptions, StackState>;

const runAll = async (ctx: StackContext, commands: Command[]) => {
  for (const command of commands) await ctx.run(command);
};
const forTheApp = 'the page shows it for the registry stack; the lab shows it for the app';

export function stacksLabSteps(o: LabOptions): Step[] {
  const catalog = `http://${o.registry}/v2/_catalog`;
  const readCatalog = async () => {
    const res = await fetch(catalog, { signal: AbortSignal.timeout(3000) });
    return res.ok ? ((await res.json()) as { repositories: string[] }).repositories : undefined;
  };
  return [
    {
      title: 'The Swarm and the app',
      commands: [{ args: ['node', 'ls'], departure: 'a check the lab adds: the chapter starts on the Swarm of the earlier chapters' }],
      expect: `every node Ready; no ${stack} stack from an earlier run`,
      async run(ctx) {
        await runAll(ctx, this.commands);
        const nodes = await swarmNodes(ctx.docker, ctx.signal);
        const ready = nodes.filter((n) => n.ready).length;
        if (ready < nodes.length) throw new Failure(`${nodes.length - ready} of ${nodes.length} nodes are not Ready`);
        if ((await stacksLeft(ctx.docker, [stack], ctx.signal)).length) throw new Failure(`a ${stack} stack is left over from an earlier run: docker stack rm ${stack}`);
        // A stack just removed keeps its network a few seconds, and a deploy then fails on it.
        await waitUntil(
          `the network of a removed ${stack} stack to go`,
          async () => ((await existing(ctx.docker, 'network', [`${stack}_default`], ctx.signal)).length ? undefined : true),
          waitOptions(ctx),
        );
        return { figure: `${ready} nodes Ready`, values: { nodes: ready } };
      },
    },
    {
      title: 'The registry as a stack',
      commands: [
        { args: ['stack', 'deploy', '--compose-file', 'registry.yml', registryStack], dir: 'stacks' },
        { args: ['stack', 'ps', registryStack], show: true },
        { args: ['service', 'ps', `${registryStack}_registry`], show: true },
      ],
      expect: `${catalog} answers (curl 127.0.0.1:5000/v2/_catalog)`,
      async run(ctx) {
        const already = await readCatalog().catch(() => undefined);
        if (already) return { figure: `${o.registry} already answers: no registry stack deployed (repositories: ${already.join(', ') || 'none'})` };
        await runAll(ctx, this.commands.slice(0, 1));
        ctx.state.deployed.add(registryStack);
        const repositories = await waitUntil(catalog, readCatalog, waitOptions(ctx));
        await runAll(ctx, this.commands.slice(1));
        return { figure: `${registryStack}_registry runs; ${catalog}: ${JSON.stringify({ repositories })}` };
      },
    },
    {
      title: 'Build and push with Compose',
      commands: [composeInStacks(o, 'build'), composeInStacks(o, 'push')],
      expect: `hasher, rng, webui, worker in ${o.registry} with tag latest`,
      async run(ctx) {
        await runAll(ctx, this.commands);
        for (const s of ['hasher', 'rng', 'webui', 'worker']) {
          const res = await fetch(`http://${o.registry}/v2/${s}/tags/list`, { signal: AbortSignal.timeout(5000) });
          const tags = res.ok ? ((await res.json()) as { tags: string[] | null }).tags : null;
          if (!tags?.includes('latest')) throw new Failure(`${o.registry} has no ${s}:latest after the push (tags: ${tags?.join(', ') ?? 'none'})`);
        }
        return { figure: `4 images in ${o.registry}: ${(await readCatalog())?.join(', ')}` };
      },
    },
    {
      title: 'Deploy the app',
      commands: [
        deployStack(o),
        { args: ['stack', 'ps', stack], show: true, departure: forTheApp },
        { args: ['stack', 'services', stack], show: true, departure: 'what the page describes (each service and its replicas), shown' },
      ],
      expect: 'rng runs on every node (global), 10 workers, one redis, hasher and webui',
      async run(ctx) {
        ctx.state.deployed.add(stack);
        const started = Date.now();
        await ctx.run(this.commands[0]!);
        const { nodes, rng } = await waitForStack(ctx);
        const seconds = Math.round((Date.now() - started) / 1000);
        await runAll(ctx, this.commands.slice(1));
        return { figure: `${rng} rng tasks on ${nodes} nodes, 10 workers, converged in ${seconds} s`, values: { nodes, rngTasks: rng, seconds } };
      },
    },
    {
      title: 'The speed',
      commands: [],
      expect: `the familiar speed graph on port 8000, above one rng's plateau (${expectedPlateau} hashes/s)`,
      async run(ctx) {
        const url = await webuiUrl(ctx);
        await waitUntil(`${url}/json`, () => readCounters(url, ctx.signal), waitOptions(ctx));
        ctx.progress('letting the workers settle (5 s)');
        await sleep(5000, ctx.signal);
        const { rate } = await measureRate(url, o.windowSeconds, ctx);
        const figure = `${rate.toFixed(1)} hashes/s over ${o.windowSeconds} s, ${(rate / expectedPlateau).toFixed(2)}× one rng's plateau`;
        if (rate < expectedPlateau * 1.3) throw new Failure(`${figure}; expected above the plateau (at least ${expectedPlateau * 1.3})`);
        return { figure, values: { url, rate } };
      },
    },
  ];
}

export function stacksChapter(o: LabOptions): Chapter {
  const steps = stacksLabSteps(o);
  return {
    name: 'The stacks chapter',
    leaves: `The ${stack} stack runs on for the next chapters (docker stack rm ${stack} removes it).`,
    cheatSheet: () => cheatSheet(`The stacks chapter (in stacks/ of the repository; registry ${o.registry}, endpoint mode ${o.endpointMode})`, steps, o),
    run: (io) =>
      runSteps(steps, o, { deployed: new Set<string>() } satisfies StackState, { needed: (s) => s.deployed.size > 0, run: removeStacks }, io),
  };
}
