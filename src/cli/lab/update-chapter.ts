// The workshop's updatingservices chapter, as its page reads: a visible change to the web UI
// (one sed makes the chart's speed axis bigger), TAG v0.2, build, push and `docker stack
// deploy`; then the change is checked on the page. Starts from the stacks chapter's app.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCounters, waitForUpdate } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { cheatSheet, runSteps, type Chapter, type LabStep, type StepContext } from './runner.js';
import { composeInStacks, deployStack, service, stack, stackRunning, waitOptions, webuiUrl, type StackState } from './stack.js';

const tag = 'v0.2';
const styleFile = 'src/webui/client/style.css';
const bigger = { from: '16px', to: '50px' };
const appServices = ['hasher', 'rng', 'webui', 'worker'];
/** What the build reads (.dockerignore) and the stack files: what the copy holds. */
const buildFiles = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'src', 'stacks'];

interface UpdateState extends StackState {
  /** The copy of the repository the change is made in. */
  copy?: string;
  /** Each service's image (name:tag@digest) before the update. */
  images?: Record<string, string>;
}

type Step = LabStep<LabOptions, UpdateState>;
type Ctx = StepContext<LabOptions, UpdateState>;

const imageOf = async (ctx: Ctx, name: string) =>
  (await ctx.docker(['service', 'inspect', service(name), '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'], { signal: ctx.signal })).trim();
const digest = (image: string) => image.split('@')[1] ?? image;

/** The speed axis's font size on the page the web UI serves (its stylesheet). */
async function axisSize(url: string, signal: AbortSignal): Promise<string> {
  const res = await fetch(new URL('/app.css', url), { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
  const size = /--speed-axis-font:\s*(\d+px)/.exec(await res.text())?.[1];
  if (!size) throw new Error(`${url}/app.css has no --speed-axis-font`);
  return size;
}

export function updateLabSteps(o: LabOptions): Step[] {
  const build = composeInStacks(o, 'build', tag);
  const push = composeInStacks(o, 'push', tag);
  const deploy = deployStack(o, tag, '-c');
  const steps: Step[] = [
    {
      title: 'The app from the stacks chapter',
      commands: [{ args: ['stack', 'services', stack], show: true, departure: 'a check the lab adds: the chapter starts from the stacks chapter\'s app' }],
      expect: `the ${stack} stack runs; the speed axis's numbers in ${bigger.from} on the page`,
      async run(ctx) {
        await stackRunning(ctx);
        await ctx.run(this.commands[0]!);
        ctx.state.images = Object.fromEntries(await Promise.all(appServices.map(async (s) => [s, await imageOf(ctx, s)] as const)));
        const size = await axisSize(await webuiUrl(ctx), ctx.signal);
        if (size !== bigger.from) throw new Failure(`the speed axis is in ${size}, expected ${bigger.from} before the change`);
        return { figure: `webui runs ${ctx.state.images.webui!.split('@')[0]}; speed axis in ${size}` };
      },
    },
    {
      title: 'Change the code',
      commands: [
        {
          program: 'sed',
          args: ['-i', `s/${bigger.from}/${bigger.to}/`, styleFile],
          departure: `our page's style (the workshop's is dockercoins/webui/files/index.html), edited in a copy of the repository so that your checkout stays as it is`,
        },
      ],
      expect: `${styleFile} sets the speed axis in ${bigger.to}`,
      async run(ctx) {
        const copy = await mkdtemp(path.join(tmpdir(), 'dockercoins-update-'));
        ctx.state.copy = copy;
        for (const file of buildFiles) await cp(path.join(o.context, file), path.join(copy, file), { recursive: true });
        await ctx.run({ ...this.commands[0]!, dir: copy });
        const size = /--speed-axis-font:\s*(\d+px)/.exec(await readFile(path.join(copy, styleFile), 'utf8'))?.[1];
        if (size !== bigger.to) throw new Failure(`${styleFile} sets ${size ?? 'no size'} after the sed`);
        return { figure: `${styleFile}: --speed-axis-font ${size} (in ${copy})` };
      },
    },
    {
      title: 'Build, ship, and run',
      commands: [build, push, deploy],
      expect: `webui rolls to ${tag} with a new image; the others keep theirs (the page: tagging every image ${tag} makes deploy update them all)`,
      async run(ctx) {
        const started = Date.now();
        for (const command of this.commands) await ctx.run({ ...command, dir: path.join(ctx.state.copy!, 'stacks') });
        const seconds: Record<string, number> = {};
        for (const s of ['webui', ...appServices.filter((a) => a !== 'webui')]) {
          await waitForUpdate(ctx.docker, service(s), waitOptions(ctx));
          seconds[s] = Math.round((Date.now() - started) / 1000);
        }
        const after = Object.fromEntries(await Promise.all(appServices.map(async (s) => [s, await imageOf(ctx, s)] as const)));
        const changed = appServices.filter((s) => digest(after[s]!) !== digest(ctx.state.images![s]!));
        if (!after.webui!.includes(`:${tag}@`)) throw new Failure(`webui runs ${after.webui}, expected tag ${tag}`);
        if (!changed.includes('webui')) throw new Failure(`webui's image did not change (${digest(after.webui!)})`);
        const same = appServices.filter((s) => !changed.includes(s));
        const figure =
          `webui rolled to ${tag} with a new image in ${seconds.webui} s; ` +
          (same.length ? `${same.join(', ')}: same image, tasks replaced for the new tag` : 'every image changed') +
          `${changed.length > 1 ? ` (new images: ${changed.join(', ')})` : ''}; all done in ${Math.max(...Object.values(seconds))} s`;
        return { figure, values: { webuiSeconds: seconds.webui!, allSeconds: Math.max(...Object.values(seconds)), changed: changed.join(' ') } };
      },
    },
    {
      title: 'Viewing our changes',
      commands: [],
      expect: `the speed axis's numbers in ${bigger.to} on the page; the counter still climbs`,
      async run(ctx) {
        const url = await webuiUrl(ctx);
        const size = await waitUntil(`${bigger.to} on ${url}`, async () => ((await axisSize(url, ctx.signal)) === bigger.to ? bigger.to : undefined), waitOptions(ctx));
        const first = await waitUntil(`${url}/json`, () => readCounters(url, ctx.signal), waitOptions(ctx));
        await waitUntil('the counter to climb', async () => ((await readCounters(url, ctx.signal)).hashes > first.hashes ? true : undefined), waitOptions(ctx));
        await removeCopy(ctx);
        return { figure: `${url}: speed axis in ${size} (was ${bigger.from}); hashes climbing` };
      },
    },
  ];
  return steps;
}

const removeCopy = async (ctx: Ctx) => {
  if (ctx.state.copy) await rm(ctx.state.copy, { recursive: true, force: true });
  ctx.state.copy = undefined;
};

export function updateChapter(o: LabOptions): Chapter {
  const steps = updateLabSteps(o);
  return {
    name: 'The update chapter',
    leaves: `The ${stack} stack runs on at ${tag}.`,
    cheatSheet: () => cheatSheet(`The update chapter (in stacks/ of the repository; TAG ${tag}, registry ${o.registry})`, steps, o),
    // On a failure the stack stays as it is (the stacks chapter made it); only the copy goes.
    run: (io) => runSteps(steps, o, { deployed: new Set() } satisfies UpdateState, { needed: (s) => Boolean(s.copy), run: removeCopy }, io),
  };
}
