// The Swarm chapter's speed measurements, against its page's figures: one worker, ten workers at
// rng's plateau, and rng in global mode, about × the number of nodes over that plateau; each
// read from the web UI of the services the chapter created (not the stack's).
import { measureRate, waitForTasks } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { Failure } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import type { Action, Play } from './script.js';
import { readyNodes, waitOptions, webuiAt } from './stack.js';

/**
 * The chapter's claim for global rng: the speed grows about with the number of nodes. The lab
 * asks 2.5× on 3 nodes (5/6 of a node's worth each): some slack for a busy host.
 */
const minGain = (o: LabOptions, nodes: number) => o.minGain ?? (nodes * 2.5) / 3;
const perSecond = (rate: number) => rate.toFixed(1);

/** The workers back off up to 1 s after a fault and flush once a second: let them settle before measuring. */
const settled = async (p: Play) => {
  p.progress('letting the workers settle (5 s)');
  await sleep(5000, p.signal);
};
/** Where the web UI answers, asked again before each measurement: in host mode the URL moves with the task. */
export const webui = (p: Play) => webuiAt(p, 'webui');

/** The speed of `workers` workers over --window, within 30 % of the page's `expected`. */
export function measureSpeed(workers: number, expected: number, why: string): Action {
  return {
    do: 'measure',
    what: `hashes/s over --window, after 5 s to settle: about ${perSecond(expected)} (${why}), ± 30 %`,
    async measure(p) {
      await settled(p);
      const { rate } = await measureRate(await webui(p), p.options.windowSeconds, p);
      const figure = `${workers}${workers > 1 ? `/${workers} workers` : ' worker'}: ${perSecond(rate)} hashes/s over ${p.options.windowSeconds} s`;
      if (rate < expected * 0.7 || rate > expected * 1.3) throw new Failure(`${figure}; expected ${perSecond(expected)} ± 30 %`);
      return { figure, values: { workers, rate } };
    },
  };
}

/** One rng per node: the speed about × the number of nodes over the plateau (a second window if the first falls short). */
export function globalRng(o: LabOptions): Action {
  return {
    do: 'measure',
    what: `one rng task per node; hashes/s about × the number of nodes over the plateau (${o.minGain ? `at least ${o.minGain}×` : 'at least 2.5× on 3 nodes'})`,
    async measure(p) {
      const nodes = await readyNodes(p);
      const tasks = await waitForTasks(p.docker, 'rng', nodes, { ...waitOptions(p), perNode: true });
      await settled(p);
      const plateau = Number(p.figures.rate);
      // On a busy host, 3 rng tasks on 2-core nodes can spend a window waiting for CPU rather than for their queues.
      const gainNeeded = minGain(o, nodes);
      const windows = [(await measureRate(await webui(p), o.windowSeconds, p)).rate];
      if (windows[0]! < gainNeeded * plateau) windows.push((await measureRate(await webui(p), o.windowSeconds, p)).rate);
      const rate = Math.max(...windows);
      const gain = rate / plateau;
      const tried = windows.length > 1 ? ` (best of 2 windows: ${windows.map(perSecond).join(', ')})` : '';
      const figure = `${tasks.length} rng tasks on ${nodes} nodes: ${perSecond(rate)} hashes/s${tried}, ${gain.toFixed(2)}× the plateau (${perSecond(plateau)})`;
      if (gain < gainNeeded) throw new Failure(`${figure}; expected at least ${gainNeeded.toFixed(2)}× on ${nodes} nodes`);
      return { figure, values: { nodes, rngTasks: tasks.length, rate, gain } };
    },
  };
}
