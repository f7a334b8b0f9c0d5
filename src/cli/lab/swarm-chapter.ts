// The workshop's Swarm chapter (ourapponswarm, hostingregistry, testingregistry, btp-manual), as
// its page reads: a registry, the images built and pushed, an overlay network, the services,
// webui published, one worker then ten, rng in global mode; measured against the page's figures.
import { fetchWithin, waitForClimbing, serviceTasks, waitForTasks, waitForUpdate, isRunning, existing } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import { imageOptionsSet, type LabOptions } from './options.js';
import { departs, detached, docker, labCheck, run, type Action, type ChapterScript, type Command, type RunAction, type Step } from './script.js';
import { readyNodes, waitOptions } from './stack.js';
import { globalRng, measureSpeed, webui } from './swarm-speed.js';

/** The chapter's order. */
export const appServices = ['hasher', 'rng', 'webui', 'worker'] as const;
export const network = 'dockercoins';
const registryService = 'registry';
/** One rng instance answers 10 requests/s (100 ms each, one at a time): the chapter's plateau. */
export const expectedPlateau = 10;
/** One worker: one hash every 0.3 s (100 ms of rng, 100 ms of hasher, 100 ms of its own pause). */
export const oneWorkerRate = 10 / 3;
const noIpvs = 'dnsrr and host-mode ports (--endpoint-mode dnsrr): this engine has no IPVS for VIPs and the routing mesh';
const modeDeparture = (o: LabOptions) => (o.endpointMode === 'dnsrr' ? noIpvs : undefined);
const endpointArgs = (o: LabOptions) => (o.endpointMode === 'dnsrr' ? ['--endpoint-mode', 'dnsrr'] : []);
export const publishArg = (o: LabOptions, published: number, target: number) => (o.endpointMode === 'dnsrr' ? `mode=host,published=${published},target=${target}` : `${published}:${target}`);
const image = (o: LabOptions, s: string) => `${o.registry}/${s}:${o.tag}`;
/** The tags the registry holds for a repository (null: none, or no such repository). */
export async function registryTags(registry: string, repository: string, signal?: AbortSignal): Promise<string[] | null> {
  const res = await fetchWithin(`http://${registry}/v2/${repository}/tags/list`, signal);
  return res.ok ? ((await res.json()) as { tags: string[] | null }).tags : null;
}
const otherImage = (o: LabOptions, key: 'redisImage' | 'registryImage', what: string) =>
  imageOptionsSet(o, [key]).length ? `another ${what} image (${imageOptionsSet(o, [key])[0]}): no registry is reachable here` : undefined;

/** A service the chapter creates, removed on failure. */
const created = (command: Command, name: string): RunAction => run(command, { undo: { key: name, actions: [run(docker('service', 'rm', name))] } });
const tasksRunning = (name: string, count: number): Action => ({
  do: 'wait',
  for: `${name}: ${count}/${count} task(s) running`,
  until: (p) => waitForTasks(p.docker, name, count, waitOptions(p)).then(() => {}),
});
const networkGone: Action[] = [
  // `network rm` fails while the removed services' tasks still hold endpoints on it.
  run(docker('network', 'rm', network), { retry: 'the removed tasks to let go of the network', settles: ['network'] }),
  { do: 'wait', for: `the ${network} network to be gone on the manager`, until: (p) => waitUntil(`the ${network} network to be gone`, async () => ((await existing(p.docker, 'network', [network], p.signal)).length ? undefined : true), waitOptions(p)).then(() => {}) },
];

/** Whether a registry answers at --registry (GET /v2/). */
const registryAnswers = (o: LabOptions, signal: AbortSignal) => fetchWithin(`http://${o.registry}/v2/`, signal, 3000).then((r) => r.ok || undefined);

const swarmStep: Step = {
  title: 'The Swarm',
  actions: [
    run(labCheck(docker('node', 'ls'), 'the chapter starts on the Swarm of the earlier chapters')),
    {
      do: 'expect',
      that: 'this engine is a Swarm manager; every node Ready; no DockerCoins services left from an earlier run',
      async check(p) {
        const ready = await readyNodes(p);
        const left = [...(await existing(p.docker, 'service', ['redis', ...appServices], p.signal)), ...(await existing(p.docker, 'network', [network], p.signal))];
        if (left.length) throw new Failure(`left over from an earlier run: ${left.join(', ')}; remove them: dockercoins lab clean`);
        return { figure: `${ready} nodes Ready`, values: { nodes: ready } };
      },
    },
  ],
};

const registryStep = (o: LabOptions): Step => ({
  title: 'A registry',
  actions: [
    {
      ...created(departs(docker('service', 'create', '--detach', '--name', registryService, '--publish', publishArg(o, 5000, 5000), o.registryImage), modeDeparture(o), detached, otherImage(o, 'registryImage', 'registry')), registryService),
      when: { says: `nothing answers at http://${o.registry}/v2/ yet`, holds: async (p) => !(await registryAnswers(o, p.signal).catch(() => undefined)) && Boolean((p.figures.registryCreated = 'yes')) },
    },
    { do: 'wait', for: `GET http://${o.registry}/v2/ to answer 200`, until: (p) => waitUntil(`the registry at ${o.registry}`, () => registryAnswers(o, p.signal), waitOptions(p)).then(() => ({ figure: `${o.registry} answers${p.figures.registryCreated ? '' : ' (already: no service created)'}` })) },
  ],
});

function buildImagesStep(o: LabOptions): Step {
  const build = appServices.flatMap((s): Action[] => [
    run({
      // Run in the repository (--context), as the chapter runs in its checkout.
      args: ['build', '--target', s, ...(o.nodeImage ? ['--build-arg', `NODE_IMAGE=${o.nodeImage}`] : []), '-t', `dockercoins_${s}`, '.'],
      build: true,
      departure: 'docker build --target: our four images come from one Dockerfile (the workshop built them with docker-compose build)',
    }),
    run({ args: ['tag', `dockercoins_${s}`, image(o, s)], build: true }),
    run({ args: ['push', image(o, s)], build: true, departure: 'the :$TAG in the push: since Docker 20.10 a bare `docker push $REGISTRY/$SERVICE` pushes only :latest' }),
  ]);
  return {
    title: 'Build, tag and push the images',
    actions: [
      ...build,
      // One expect per image: the coach ticks them in whatever order the attendee pushes.
      ...appServices.map((s): Action => ({
        do: 'expect',
        that: `${s}:${o.tag} in ${o.registry}`,
        async check(p) {
          const tags = await registryTags(o.registry, s, p.signal);
          if (!tags?.includes(o.tag)) throw new Failure(`${o.registry} has no ${s}:${o.tag} after the push (tags: ${tags?.join(', ') ?? 'none'})`);
          return { figure: `${o.registry}/${s}:${o.tag}` };
        },
      })),
    ],
  };
}

const overlayNetworkStep: Step = {
  title: 'An overlay network',
  actions: [
    run(docker('network', 'create', '--driver', 'overlay', network), { undo: { key: 'network', actions: networkGone } }),
    run({ args: ['network', 'ls'], show: true }),
    {
      do: 'expect',
      that: `${network}: scope swarm, driver overlay`,
      async check(p) {
        const [scope, driver] = (await p.docker(['network', 'inspect', network, '--format', '{{.Scope}} {{.Driver}}'], { signal: p.signal })).trim().split(' ');
        if (scope !== 'swarm' || driver !== 'overlay') throw new Failure(`${network} has scope ${scope} and driver ${driver}, expected swarm and overlay`);
        return { figure: `${network}: scope ${scope}, driver ${driver}` };
      },
    },
  ],
};

const redisStep = (o: LabOptions): Step => ({
  title: 'The redis service',
  actions: [created(departs(docker('service', 'create', '--network', network, '--detach', ...endpointArgs(o), '--name', 'redis', o.redisImage), modeDeparture(o), detached, otherImage(o, 'redisImage', 'redis')), 'redis'), tasksRunning('redis', 1)],
});

const otherServicesStep = (o: LabOptions): Step => ({
  title: 'The other services',
  actions: [
    ...appServices.map((s) => created(departs(docker('service', 'create', '--network', network, '--detach=true', ...endpointArgs(o), '--name', s, image(o, s)), modeDeparture(o)), s)),
    ...appServices.map((s) => tasksRunning(s, 1)),
  ],
});

const publishWebuiStep = (o: LabOptions): Step => ({
  title: 'Publish the web UI',
  actions: [
    run(departs(docker('service', 'update', 'webui', '--detach', '--publish-add', publishArg(o, o.port, 80)), modeDeparture(o), detached)),
    { do: 'wait', for: 'the update of webui', until: (p) => waitForUpdate(p.docker, 'webui', waitOptions(p)) },
    {
      do: 'expect',
      that: `webui publishes ${o.port} (${o.endpointMode === 'dnsrr' ? 'host' : 'ingress'} mode)`,
      async check(p) {
        const mode = o.endpointMode === 'dnsrr' ? 'host' : 'ingress';
        const ports = await p.docker(['service', 'inspect', 'webui', '--format', '{{range .Endpoint.Ports}}{{.PublishedPort}}/{{.PublishMode}} {{end}}'], { signal: p.signal });
        if (!ports.includes(`${o.port}/${mode}`)) throw new Failure(`webui publishes "${ports.trim()}", expected ${o.port}/${mode}`);
        return { figure: `webui publishes ${o.port} (${mode} mode)` };
      },
    },
  ],
});

const webuiReplacedStep: Step = {
  title: 'What happened to webui',
  actions: [
    {
      do: 'wait',
      for: 'the first task shut down, a new one running in its place',
      async until(p) {
        const tasks = await waitUntil(
          'webui: 1 task shut down, 1 running',
          async () => {
            const all = await serviceTasks(p.docker, 'webui', p.signal);
            const shutdown = all.filter((t) => t.desired === 'Shutdown' && t.current.startsWith('Shutdown'));
            const running = all.filter(isRunning);
            return shutdown.length >= 1 && running.length === 1 ? { shutdown, running } : undefined;
          },
          waitOptions(p),
        );
        return { figure: `task ${tasks.shutdown[0]!.id.slice(0, 12)} shut down, replaced by ${tasks.running[0]!.id.slice(0, 12)} running on ${tasks.running[0]!.node}` };
      },
    },
    run({ args: ['service', 'ps', 'webui'], show: true }),
  ],
};

const webuiAnswersStep = (o: LabOptions): Step => ({
  title: 'The web UI',
  actions: [
    {
      do: 'wait',
      for: `GET /json on port ${o.port} to answer and the hash counter to climb`,
      until: async (p) => {
        const url = await webui(p);
        const later = await waitForClimbing(url, waitOptions(p));
        return { figure: `${url}/json answers: ${later.hashes} hashes, climbing`, values: { url, hashes: later.hashes } };
      },
    },
  ],
});

const oneWorkerStep: Step = { title: 'One worker', actions: [measureSpeed(1, oneWorkerRate, 'one hash every 0.3 s')] };

const scaleWorkersStep: Step = {
  title: 'Scale the workers',
  actions: [run(departs(docker('service', 'update', 'worker', '--detach', '--replicas', '10'), detached)), tasksRunning('worker', 10), measureSpeed(10, expectedPlateau, 'the speed plateaus: one rng answers 10 requests/s')],
};

const globalRngStep = (o: LabOptions): Step => ({
  title: 'rng in global mode',
  actions: [
    run(docker('service', 'rm', 'rng'), { settles: ['rng'] }),
    created(departs(docker('service', 'create', '--detach', '--name', 'rng', '--network', network, '--mode', 'global', ...endpointArgs(o), image(o, 'rng')), modeDeparture(o), detached), 'rng'),
    {
      do: 'expect',
      that: 'rng runs in global mode',
      async check(p) {
        const mode = (await p.docker(['service', 'inspect', 'rng', '--format', '{{if .Spec.Mode.Global}}global{{else}}replicated{{end}}'], { signal: p.signal })).trim();
        if (mode !== 'global') throw new Failure(`rng runs in ${mode} mode, expected global`);
      },
    },
    globalRng(o),
  ],
});

const removeEverythingStep: Step = {
  title: 'Remove everything',
  actions: [
    run(departs(docker('service', 'rm', 'redis', ...appServices), 'what the lab created, by name (the page removes every service: docker service ls -q | xargs docker service rm)'), { settles: ['redis', ...appServices] }),
    run(departs(docker('service', 'rm', registryService), 'the registry too, where the lab created it'), { when: { says: 'the lab created the registry', holds: async (p) => p.figures.registryCreated === 'yes' }, settles: [registryService] }),
    ...networkGone.map((a) => (a.do === 'run' ? { ...a, command: departs(a.command, 'the network too, so that the next run starts clean') } : a)),
    {
      do: 'expect',
      that: `no DockerCoins service, no ${network} network`,
      async check(p) {
        const left = await existing(p.docker, 'service', ['redis', ...appServices, registryService], p.signal);
        if (left.length) throw new Failure(`still there: ${left.join(', ')}`);
        return { figure: `removed redis, ${appServices.join(', ')}${p.figures.registryCreated ? `, ${registryService}` : ''} and the ${network} network` };
      },
    },
  ],
};

export function swarmScript(o: LabOptions): ChapterScript {
  return {
    name: 'The Swarm chapter',
    header: `The Swarm chapter (registry ${o.registry}, tag ${o.tag}, endpoint mode ${o.endpointMode})`,
    keyStep: 'rng in global mode',
    steps: [
      swarmStep,
      registryStep(o),
      buildImagesStep(o),
      overlayNetworkStep,
      redisStep(o),
      otherServicesStep(o),
      publishWebuiStep(o),
      webuiReplacedStep,
      webuiAnswersStep(o),
      oneWorkerStep,
      scaleWorkersStep,
      globalRngStep(o),
      ...(o.keep ? [] : [removeEverythingStep]),
    ],
  };
}
