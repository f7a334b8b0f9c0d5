// `dockercoins lab clean`: the cluster back to clean, as a script like any chapter's: every stack,
// service, network and volume the chapters make, and the images they build, each removed only
// if it is there. The base images a node pulled and what was pushed to a registry the lab did
// not create stay.
import { existing } from '../swarm.js';
import { waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { docker, labCheck, run, type Action, type ChapterScript, type Play } from './script.js';
import { elkStack, logstash, receiverImage } from './logging-chapter.js';
import { promImage, promServices, promStack } from './metrics-chapter.js';
import { appServices, network } from './swarm-chapter.js';
import { netshootImage } from './stand-in.js';
import { ipsecNetworks } from './ipsec-chapter.js';
import { registryStack, removeStacks, service, stack, stackNetwork, stackServices, stacksLeft, waitOptions } from './stack.js';

/** Services of the swarm chapter (by their own names) and of netshoot (debug). */
const services = ['redis', ...appServices, 'registry', 'debug'];
const volume = 'dockercoins-redis';
const labServices = [...services, ...stackServices.map(service), ...promServices, logstash];

const ifThere = (kind: 'service' | 'network' | 'volume', name: string) => ({ says: `${kind} ${name} exists`, holds: async (p: Play) => (await existing(p.docker, kind, [name], p.signal)).length > 0 });

/** The images the chapters build and tag, on the build engine. */
function images(o: LabOptions): string[] {
  const tags = [...new Set([o.tag, 'latest', 'v0.1', 'v0.2', 'v0.3'])];
  return [...appServices.map((s) => `dockercoins_${s}`), ...appServices.flatMap((s) => tags.map((t) => `${o.registry}/${s}:${t}`)), netshootImage(o), receiverImage(o), promImage(o)];
}

export function cleanScript(o: LabOptions): ChapterScript {
  const imageThere = (ref: string) => ({
    says: `${ref} is on the build engine`,
    holds: async (p: Play) => (await p.docker(['image', 'ls', '-q', ref], { host: o.buildHost, signal: p.signal })).trim() !== '',
  });
  const stacks: Action[] = [
    // First: the metrics chapter's Prometheus is on the app's network, which would outlive the app's stack.
    { ...removeStacks(promStack)[0]!, when: { says: `a ${promStack} stack is left`, holds: async (p) => (await existing(p.docker, 'service', promServices, p.signal)).length > 0 } } as Action,
    removeStacks(promStack)[1]!,
    {
      ...removeStacks(stack, registryStack)[0]!,
      when: { says: `a ${stack} or ${registryStack} stack is left`, holds: async (p) => (await stacksLeft(p.docker, [stack, registryStack], p.signal)).length > 0 },
    } as Action,
    removeStacks(stack, registryStack)[1]!,
    // The logging chapter's GELF receiver (left by --keep or a stopped run).
    { ...removeStacks(elkStack)[0]!, when: ifThere('service', logstash) } as Action,
    removeStacks(elkStack)[1]!,
  ];
  return {
    name: 'The clean-up',
    header: `The clean-up: what the lab's chapters made (registry ${o.registry}, tag ${o.tag})`,
    keyStep: 'Volumes and images',
    steps: [
      { title: 'The Swarm', actions: [run(labCheck(docker('node', 'ls'), 'the engine the clean-up talks to'))] },
      { title: 'Stacks', actions: stacks },
      {
        title: 'Services and networks',
        actions: [
          ...services.map((s) => run(docker('service', 'rm', s), { when: ifThere('service', s) })),
          ...[network, ...ipsecNetworks].map((n) => run(docker('network', 'rm', n), { when: ifThere('network', n), retry: 'the removed tasks to let go of the network' })),
          {
            do: 'wait',
            for: `no ${[network, ...ipsecNetworks, stackNetwork()].join(', ')} or ${stackNetwork(registryStack)} network left`,
            until: (p) =>
              waitUntil('the networks to be gone', async () => ((await existing(p.docker, 'network', [network, ...ipsecNetworks, stackNetwork(), stackNetwork(registryStack)], p.signal)).length ? undefined : true), waitOptions(p)).then(() => {}),
          },
        ],
      },
      {
        title: 'Volumes and images',
        actions: [
          // The stateful chapter pins redis to the node the CLI talks to: its volume is there.
          run(docker('volume', 'rm', volume), { when: ifThere('volume', volume), retry: "the removed redis task's container to let go of it" }),
          ...images(o).map((ref) => run({ args: ['image', 'rm', ref], build: true }, { when: imageThere(ref) })),
          {
            do: 'expect',
            that: `no service of the lab's (${labServices.join(', ')}), no ${volume} volume`,
            async check(p) {
              const left = [...(await existing(p.docker, 'service', labServices, p.signal)), ...(await existing(p.docker, 'volume', [volume], p.signal))];
              if (left.length) throw new Error(`still there: ${left.join(', ')}`);
              return { figure: 'the cluster holds nothing of the lab' };
            },
          },
        ],
      },
    ],
  };
}
