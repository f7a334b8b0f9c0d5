// The workshop's chapters in the order of its Swarm track (container.training's swarm.yml):
// `dockercoins lab --list` prints them, `dockercoins lab all` runs them in this order on one
// cluster, and each is `dockercoins lab <name>`. A new chapter is one entry here.
import type { Command as CliCommand, OptionValues } from 'commander';
import { numberOption } from '../number-option.js';
import type { LabOptions } from './options.js';
import type { Chapter } from './runner.js';
import { composeChapter, type ComposeLabOptions } from './compose-chapter.js';
import { stacksChapter } from './stacks-chapter.js';
import { swarmChapter } from './swarm-chapter.js';
import { netshootChapter } from './netshoot-chapter.js';
import { updateChapter } from './update-chapter.js';
import { rollingChapter } from './rolling-chapter.js';
import { healthcheckChapter } from './healthcheck-chapter.js';
import { statefulChapter } from './stateful-chapter.js';

export interface ChapterEntry {
  name: string;
  /** The workshop pages it covers, in order. */
  pages: string[];
  description: string;
  /** Options of its own beyond the shared ones (./options.ts); their defaults are what `lab all` uses. */
  options?: (command: CliCommand) => CliCommand;
  create(o: LabOptions & OptionValues): Chapter;
}

export const chapters: ChapterEntry[] = [
  {
    name: 'compose',
    pages: ['sampleapp', 'composescale', 'hastyconclusions', 'composedown'],
    description: 'the app with docker-compose on the build engine: up, ps, logs, 2 then 10 workers, rng and hasher latency, down',
    options: (c) =>
      c
        .option('--rng-port <port>', "rng's published port", numberOption(1, 65535), 8001)
        .option('--hasher-port <port>', "hasher's published port", numberOption(1, 65535), 8002),
    create: (o) => composeChapter(o as ComposeLabOptions),
  },
  {
    name: 'swarm',
    pages: ['ourapponswarm', 'hostingregistry', 'testingregistry', 'btp-manual'],
    description: 'registry, images, services, scaling, global mode on the Swarm DOCKER_HOST points to',
    options: (c) => c.option('--min-gain <x>', 'global rng must reach this multiple of the plateau (default: 5/6 × the number of nodes)', numberOption(1, 10, { fractions: true })),
    create: (o) => swarmChapter(o),
  },
  {
    name: 'stacks',
    pages: ['swarmready', 'stacks'],
    description: 'the registry as a stack, images built and pushed with docker-compose, the app as a stack; leaves it running',
    create: (o) => stacksChapter(o),
  },
  // The chapters that operate the running app (the dockercoins stack; deployed first where it is not running).
  {
    name: 'netshoot',
    pages: ['netshoot'],
    description: 'a debug container on the overlay network; rng and hasher benchmarked at concurrency 1 and 50',
    options: (c) => c.option('--debian-image <image>', "base of the debug image (default: stacks/netshoot.Dockerfile's)", process.env.DEBIAN_IMAGE),
    create: (o) => netshootChapter(o),
  },
  {
    name: 'update',
    pages: ['updatingservices'],
    description: 'a bigger speed axis on the page (one sed), TAG v0.2, build, push, docker stack deploy, the change checked on the page',
    create: (o) => updateChapter(o),
  },
  {
    name: 'rolling',
    pages: ['rollingupdates'],
    description: 'hasher scaled to 7 and rolled to another image, the update policy changed, webui rolled back',
    create: (o) => rollingChapter(o),
  },
  {
    name: 'healthcheck',
    pages: ['healthchecks'],
    description: "hasher checked with the workshop's curl and an update policy that rolls back; a broken hasher (v0.3, port 81) shipped and rolled back by Swarm",
    create: (o) => healthcheckChapter(o),
  },
  {
    name: 'stateful',
    pages: ['stateful'],
    description: "the app's Redis pinned, on a volume, append-only: the counts survive an update and a kill",
    create: (o) => statefulChapter(o),
  },
];
