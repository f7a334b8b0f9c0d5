// The workshop's chapters in the order of its Swarm track (container.training's swarm.yml):
// `dockercoins lab --list` prints them, `dockercoins lab all` runs them in this order on one
// cluster, and each is `dockercoins lab <name>`. A new chapter is one entry here.
import type { Command as CliCommand, OptionValues } from 'commander';
import { numberOption } from '../number-option.js';
import type { LabOptions } from './options.js';
import type { Chapter } from './runner.js';
import { swarmChapter } from './swarm-chapter.js';

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
    name: 'swarm',
    pages: ['ourapponswarm', 'hostingregistry', 'testingregistry', 'btp-manual'],
    description: 'registry, images, services, scaling, global mode on the Swarm DOCKER_HOST points to',
    options: (c) => c.option('--min-gain <x>', 'global rng must reach this multiple of the plateau (default: 5/6 × the number of nodes)', numberOption(1, 10, { fractions: true })),
    create: (o) => swarmChapter(o),
  },
];
