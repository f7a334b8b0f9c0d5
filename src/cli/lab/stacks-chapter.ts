// The workshop's stacks chapters (swarmready, stacks), as their pages read: the registry as a
// stack, the images built and pushed with docker-compose, the app deployed with `docker stack
// deploy`, what `docker stack ps` and `services` show, and the promise: rng on every node, 10
// workers, the speed above one rng's plateau. Leaves the stack running for the next chapters.
import { existing, fetchWithin, measureRate, readCounters } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { workshopImages, type LabOptions } from './options.js';
import { labCheck, run, type ChapterScript, type Play, type Step } from './script.js';
import { composeInStacks, deployStack, readyNodes, registryStack, removeStacks, running, stack, stackNetwork, stacksLeft, waitForStack, waitOptions, webuiUrl } from './stack.js';
import { appServices, expectedPlateau, registryTags } from './swarm-chapter.js';

const forTheApp = 'the page shows it for the registry stack; the lab shows it for the app';
const deployedHere = { says: 'the lab deployed it', holds: async (p: Play) => p.figures.registryDeployed === 'yes' };

/** The registry's list of repositories (the page's curl), and a read of it: undefined while it answers no 200. */
const catalogUrl = (o: LabOptions) => `http://${o.registry}/v2/_catalog`;
async function readCatalog(o: LabOptions, signal: AbortSignal) {
  const res = await fetchWithin(catalogUrl(o), signal, 3000);
  return res.ok ? ((await res.json()) as { repositories: string[] }).repositories : undefined;
}

const swarmAndAppStep: Step = {
  title: 'The Swarm and the app',
  actions: [
    run(labCheck({ args: ['node', 'ls'] }, 'the chapter starts on the Swarm of the earlier chapters')),
    {
      do: 'expect',
      that: `every node Ready; no ${stack} stack from an earlier run`,
      async check(p) {
        const ready = await readyNodes(p);
        if ((await stacksLeft(p.docker, [stack], p.signal)).length) throw new Failure(`a ${stack} stack is left over from an earlier run: docker stack rm ${stack}`);
        // A stack just removed keeps its network a few seconds, and a deploy then fails on it.
        await waitUntil(`the network of a removed ${stack} stack to go`, async () => ((await existing(p.docker, 'network', [stackNetwork()], p.signal)).length ? undefined : true), waitOptions(p));
        return { figure: `${ready} nodes Ready`, values: { nodes: ready } };
      },
    },
  ],
};

function registryStackStep(o: LabOptions): Step {
  const catalog = catalogUrl(o);
  const otherRegistryImage = o.registryImage !== workshopImages.registryImage;
  return {
    title: 'The registry as a stack',
    actions: [
      run(
        {
          args: ['stack', 'deploy', '--compose-file', 'registry.yml', registryStack],
          dir: 'stacks',
          ...(otherRegistryImage ? { env: { REGISTRY_IMAGE: o.registryImage }, departure: 'another registry image (--registry-image): no registry is reachable here' } : {}),
        },
        {
          when: { says: `nothing answers at ${catalog} yet`, holds: async (p) => !(await readCatalog(o, p.signal).catch(() => undefined)) && Boolean((p.figures.registryDeployed = 'yes')) },
          undo: { key: registryStack, actions: removeStacks(registryStack) },
        },
      ),
      {
        do: 'wait',
        for: `${catalog} to answer (curl 127.0.0.1:5000/v2/_catalog)`,
        until: async (p) => {
          const repositories = await waitUntil(catalog, () => readCatalog(o, p.signal), waitOptions(p));
          return { figure: `${p.figures.registryDeployed ? `${registryStack}_registry runs` : `${o.registry} already answers: no registry stack deployed`}; ${catalog}: ${JSON.stringify({ repositories })}` };
        },
      },
      run({ args: ['stack', 'ps', registryStack], show: true }, { when: deployedHere }),
      run({ args: ['service', 'ps', `${registryStack}_registry`], show: true }, { when: deployedHere }),
    ],
  };
}

const buildAndPushStep = (o: LabOptions): Step => ({
  title: 'Build and push with Compose',
  actions: [
    run(composeInStacks(o, 'build')),
    run(composeInStacks(o, 'push')),
    {
      do: 'expect',
      that: `hasher, rng, webui, worker in ${o.registry} with tag latest`,
      async check(p) {
        for (const s of appServices) {
          const tags = await registryTags(o.registry, s, p.signal);
          if (!tags?.includes('latest')) throw new Failure(`${o.registry} has no ${s}:latest after the push (tags: ${tags?.join(', ') ?? 'none'})`);
        }
        return { figure: `4 images in ${o.registry}: ${(await readCatalog(o, p.signal))?.join(', ')}` };
      },
    },
  ],
});

const deployAppStep = (o: LabOptions): Step => ({
  title: 'Deploy the app',
  actions: [
    run(deployStack(o), { undo: { key: stack, actions: removeStacks(stack) } }),
    {
      do: 'wait',
      for: 'rng on every node (global), 10 workers, one redis, hasher and webui',
      async until(p) {
        const nodes = await readyNodes(p);
        const started = Date.now();
        const replicas = await waitForStack(p);
        const seconds = Math.round((Date.now() - started) / 1000);
        const rng = running(replicas, 'rng');
        if (rng !== nodes) throw new Failure(`${rng} rng tasks on ${nodes} nodes`);
        return { figure: `${rng} rng tasks on ${nodes} nodes, ${running(replicas, 'worker')} workers, converged in ${seconds} s`, values: { nodes, rngTasks: rng, seconds } };
      },
    },
    run({ args: ['stack', 'ps', stack], show: true, departure: forTheApp }),
    run({ args: ['stack', 'services', stack], show: true, departure: 'what the page describes (each service and its replicas), shown' }),
  ],
});

const speedStep = (o: LabOptions): Step => ({
  title: 'The speed',
  actions: [
    {
      do: 'measure',
      what: `hashes/s over --window on the web UI (port ${o.port}): above one rng's plateau (${expectedPlateau} hashes/s), at least 1.3×`,
      async measure(p) {
        const url = await webuiUrl(p);
        await waitUntil(`${url}/json`, () => readCounters(url, p.signal), waitOptions(p));
        p.progress('letting the workers settle (5 s)');
        await sleep(5000, p.signal);
        const { rate } = await measureRate(url, o.windowSeconds, p);
        const figure = `${rate.toFixed(1)} hashes/s over ${o.windowSeconds} s, ${(rate / expectedPlateau).toFixed(2)}× one rng's plateau`;
        if (rate < expectedPlateau * 1.3) throw new Failure(`${figure}; expected above the plateau (at least ${expectedPlateau * 1.3})`);
        return { figure, values: { url, rate } };
      },
    },
  ],
});

export function stacksScript(o: LabOptions): ChapterScript {
  return {
    name: 'The stacks chapter',
    header: `The stacks chapter (in stacks/ of the repository; registry ${o.registry}, endpoint mode ${o.endpointMode})`,
    leaves: `The ${stack} stack runs on for the next chapters (docker stack rm ${stack} removes it; dockercoins lab clean removes all the lab made).`,
    keyStep: 'The speed',
    steps: [swarmAndAppStep, registryStackStep(o), buildAndPushStep(o), deployAppStep(o), speedStep(o)],
  };
}
