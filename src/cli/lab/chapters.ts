// The workshop's chapters in the order of its Swarm track (container.training's swarm.yml):
// `dockercoins lab --list` prints them, `dockercoins lab all` runs them in this order on one
// cluster, and each is `dockercoins lab <name>`. A new chapter is a file of data (a script,
// ./script.ts) and one entry here.
import type { LabOptions } from './options.js';
import { scriptChapter, type Chapter } from './runner.js';
import type { ChapterScript } from './script.js';
import { composeScript } from './compose-chapter.js';
import { stacksScript } from './stacks-chapter.js';
import { swarmScript } from './swarm-chapter.js';
import { swarmMistakes, type Mistake } from './mistakes.js';
import { netshootScript } from './netshoot-chapter.js';
import { ipsecScript } from './ipsec-chapter.js';
import { updateScript } from './update-chapter.js';
import { rollingScript } from './rolling-chapter.js';
import { healthcheckScript } from './healthcheck-chapter.js';
import { loggingScript } from './logging-chapter.js';
import { metricsScript } from './metrics-chapter.js';
import { statefulScript } from './stateful-chapter.js';

export interface ChapterEntry {
  name: string;
  /** The workshop pages it covers, in order. */
  pages: string[];
  description: string;
  /** The chapter, as data (./script.ts): one file of its own. */
  script(o: LabOptions): ChapterScript;
  /** The mistakes `--coach` recognises on its pages (none where the coach knows none). */
  mistakes?: Mistake[];
}

/** The chapter `entry` makes with these options. */
export const chapterOf = (entry: ChapterEntry, o: LabOptions): Chapter => scriptChapter(entry.script(o), o);

export const chapters: ChapterEntry[] = [
  {
    name: 'compose',
    pages: ['sampleapp', 'composescale', 'hastyconclusions', 'composedown'],
    description: 'the app with docker-compose on the build engine: up, ps, logs, 2 then 10 workers, rng and hasher latency, down',
    script: composeScript,
  },
  {
    name: 'swarm',
    pages: ['ourapponswarm', 'hostingregistry', 'testingregistry', 'btp-manual'],
    description: 'registry, images, services, scaling, global mode on the Swarm DOCKER_HOST points to',
    script: swarmScript,
    mistakes: swarmMistakes,
  },
  {
    name: 'stacks',
    pages: ['swarmready', 'stacks'],
    description: 'the registry as a stack, images built and pushed with docker-compose, the app as a stack; leaves it running',
    script: stacksScript,
  },
  // The chapters that operate the running app (the dockercoins stack; deployed first where it is not running).
  {
    name: 'netshoot',
    pages: ['netshoot'],
    description: 'a debug container on the overlay network; rng and hasher benchmarked at concurrency 1 and 50',
    script: netshootScript,
  },
  {
    name: 'ipsec',
    pages: ['ipsec'],
    description: "an encrypted and a plain overlay; the app's calls to rng and hasher sniffed with ngrep on a node, in clear on the plain one, then on the encrypted one",
    script: ipsecScript,
  },
  {
    name: 'update',
    pages: ['updatingservices'],
    description: 'a bigger speed axis on the page (one sed), TAG v0.2, build, push, docker stack deploy, the change checked on the page',
    script: updateScript,
  },
  {
    name: 'rolling',
    pages: ['rollingupdates'],
    description: 'hasher scaled to 7 and rolled to another image, the update policy changed, webui rolled back',
    script: rollingScript,
  },
  {
    name: 'healthcheck',
    pages: ['healthchecks'],
    description: "hasher checked with the workshop's curl and an update policy that rolls back; a broken hasher (v0.3, port 81) shipped and rolled back by Swarm",
    script: healthcheckScript,
  },
  {
    name: 'logging',
    pages: ['logging'],
    description: "rng's logs sent with the GELF driver to a stand-in for the ELK stack: every task's lines arrive with their container's fields, and stop when the driver is taken off",
    script: loggingScript,
  },
  {
    name: 'metrics',
    pages: ['metrics'],
    description: "Prometheus (a stand-in of Debian's packages) as a stack scraping the app and the nodes: the workers' CPU, and rng found as the bottleneck",
    script: metricsScript,
  },
  {
    name: 'stateful',
    pages: ['stateful'],
    description: "the app's Redis pinned, on a volume, append-only: the counts survive an update and a kill",
    script: statefulScript,
  },
];
