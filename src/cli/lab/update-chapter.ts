// The workshop's updatingservices chapter, as its page reads: a visible change to the web UI
// (one sed makes the chart's speed axis bigger), TAG v0.2, build, push and `docker stack
// deploy`; then the change is checked on the page. Starts from the stacks chapter's app; the
// change is made in a copy of the repository, so that the user's checkout stays as it is.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { existing, fetchWithin, readCounters, waitForUpdate } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { labCheck, run, type ChapterScript, type Command, type Play, type Step } from './script.js';
import { appServices } from './swarm-chapter.js';
import { composeInStacks, deployStack, service, stack, stackServices, waitOptions, webuiUrl, type Probe } from './stack.js';

const tag = 'v0.2';
const styleFile = 'src/webui/client/style.css';
const bigger = { from: '16px', to: '50px' };
/** What the build reads (.dockerignore, the Dockerfile's COPY sources) and the stack files: what the copy holds. */
export const buildFiles = ['Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'docker', 'scripts', 'src', 'stacks'];
const inCopy = "edited in a copy of the repository so that your checkout stays as it is (the workshop edits its own)";

const imageOf = async (p: Probe, name: (typeof appServices)[number]) =>
  (await p.docker(['service', 'inspect', service(name), '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}'], { signal: p.signal })).trim();
const images = async (p: Probe) => Object.fromEntries(await Promise.all(appServices.map(async (s) => [s, await imageOf(p, s)] as const)));
const digest = (image: string) => image.split('@')[1] ?? image;

/** The speed axis's font size on the page the web UI serves (its stylesheet). */
async function axisSize(url: string, signal: AbortSignal): Promise<string> {
  const res = await fetchWithin(new URL('/app.css', url), signal);
  const size = /--speed-axis-font:\s*(\d+px)/.exec(await res.text())?.[1];
  if (!size) throw new Error(`${url}/app.css has no --speed-axis-font`);
  return size;
}

const inStacksOfCopy = (c: Command): Command => ({ ...c, dir: '$COPY/stacks' });
const removeCopy = run({ program: 'rm', args: ['-rf', '$COPY'], departure: 'the copy removed' }, { settles: ['copy'] });

/** The images the app ran before the change, by service: read by the first step, compared by the third; one per run of the chapter. */
type Before = Record<string, string>;

const appFromStacksStep = (before: Before): Step => ({
  title: 'The app from the stacks chapter',
  actions: [
    run(labCheck({ args: ['stack', 'services', stack], show: true }, "the chapter starts from the stacks chapter's app")),
    {
      do: 'expect',
      that: `the ${stack} stack runs; the speed axis's numbers in ${bigger.from} on the page`,
      async check(p) {
        const present = await existing(p.docker, 'service', stackServices.map(service), p.signal);
        if (present.length < stackServices.length) throw new Failure(`the ${stack} stack is not running (${present.length} of its ${stackServices.length} services): run dockercoins lab stacks first`);
        Object.assign(before, await images(p));
        const size = await axisSize(await webuiUrl(p), p.signal);
        if (size !== bigger.from) throw new Failure(`the speed axis is in ${size}, expected ${bigger.from} before the change`);
        return { figure: `webui runs ${before.webui!.split('@')[0]}; speed axis in ${size}` };
      },
    },
  ],
});

const changeCodeStep: Step = {
  title: 'Change the code',
  actions: [
    run({ program: 'mktemp', args: ['-d'], assign: 'COPY', departure: inCopy }, { undo: { key: 'copy', actions: [removeCopy] } }),
    run({ program: 'cp', args: ['-r', ...buildFiles, '$COPY'], departure: inCopy }),
    run({ program: 'sed', args: ['-i', `s/${bigger.from}/${bigger.to}/`, styleFile], dir: '$COPY', departure: `our page's style (the workshop's is dockercoins/webui/files/index.html), ${inCopy}` }),
    {
      do: 'expect',
      unwatchable: 'it reads the file in the copy the lab makes ($COPY)',
      that: `${styleFile} sets the speed axis in ${bigger.to}`,
      async check(p: Play) {
        const size = /--speed-axis-font:\s*(\d+px)/.exec(await readFile(path.join(p.vars.COPY!, styleFile), 'utf8'))?.[1];
        if (size !== bigger.to) throw new Failure(`${styleFile} sets ${size ?? 'no size'} after the sed`);
        return { figure: `${styleFile}: --speed-axis-font ${size} (in ${p.vars.COPY})` };
      },
    },
  ],
};

const buildShipRunStep = (o: LabOptions, before: Before): Step => ({
  title: 'Build, ship, and run',
  actions: [
    run(inStacksOfCopy(composeInStacks(o, 'build', tag))),
    run(inStacksOfCopy(composeInStacks(o, 'push', tag))),
    run(inStacksOfCopy(deployStack(o, { tag, flag: '-c' }))),
    {
      do: 'wait',
      for: `webui to roll to ${tag} with a new image; the others keep theirs (the page: tagging every image ${tag} makes deploy update them all)`,
      async until(p) {
        const started = Date.now();
        const seconds: Record<string, number> = {};
        for (const s of ['webui', 'hasher', 'rng', 'worker'] as const) {
          await waitForUpdate(p.docker, service(s), waitOptions(p));
          seconds[s] = Math.round((Date.now() - started) / 1000);
        }
        const after = await images(p);
        const changed = appServices.filter((s) => digest(after[s]!) !== digest(before[s]!));
        if (!after.webui!.includes(`:${tag}@`)) throw new Failure(`webui runs ${after.webui}, expected tag ${tag}`);
        if (!changed.includes('webui')) throw new Failure(`webui's image did not change (${digest(after.webui!)})`);
        const same = appServices.filter((s) => !changed.includes(s));
        const all = Math.max(...Object.values(seconds));
        const figure =
          `webui rolled to ${tag} with a new image in ${seconds.webui} s; ` +
          (same.length ? `${same.join(', ')}: same image, tasks replaced for the new tag` : 'every image changed') +
          `${changed.length > 1 ? ` (new images: ${changed.join(', ')})` : ''}; all done in ${all} s`;
        return { figure, values: { webuiSeconds: seconds.webui!, allSeconds: all, changed: changed.join(' ') } };
      },
    },
  ],
});

const viewingChangesStep: Step = {
  title: 'Viewing our changes',
  actions: [
    {
      do: 'wait',
      for: `the speed axis's numbers in ${bigger.to} on the page; the counter still climbs`,
      async until(p) {
        const url = await webuiUrl(p);
        const size = await waitUntil(`${bigger.to} on ${url}`, async () => ((await axisSize(url, p.signal)) === bigger.to ? bigger.to : undefined), waitOptions(p));
        const first = await waitUntil(`${url}/json`, () => readCounters(url, p.signal), waitOptions(p));
        await waitUntil('the counter to climb', async () => ((await readCounters(url, p.signal)).hashes > first.hashes ? true : undefined), waitOptions(p));
        return { figure: `${url}: speed axis in ${size} (was ${bigger.from}); hashes climbing` };
      },
    },
    removeCopy,
  ],
};

export function updateScript(o: LabOptions): ChapterScript {
  const before: Before = {};
  return {
    name: 'The update chapter',
    header: `The update chapter (in stacks/ of the repository; TAG ${tag}, registry ${o.registry})`,
    leaves: `The ${stack} stack runs on at ${tag}.`,
    keyStep: 'Build, ship, and run',
    steps: [appFromStacksStep(before), changeCodeStep, buildShipRunStep(o, before), viewingChangesStep],
  };
}
