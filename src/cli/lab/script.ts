// The one model of a lab chapter: a chapter is a list of steps, a step an ordered list of
// actions (run a command, wait for a state, measure, expect), and a command may name what undoes
// it. The runner (./runner.ts) interprets that list; the cheat sheet (`--dry-run`) is printed
// from the same list, so what is printed is what runs, in the same order, and the clean-up after
// a failure is the undo of what ran. A chapter file is this data; ./chapters.ts lists them.
import type { Docker } from '../swarm.js';
import { shellLine } from '../swarm.js';
import type { LabOptions } from './options.js';
import { Failure } from '../../lib/wait.js';

export interface Command {
  args: string[];
  /** docker unless the workshop types another program here (docker-compose, sed). */
  program?: string;
  /** Variables the workshop exports before it (TAG=v0.2), shown in front of the command. */
  env?: Record<string, string>;
  /** Runs on the build engine (build, tag, push, Compose) instead of the Swarm. */
  build?: boolean;
  /** Its output is part of the lesson (network ls, service ps). */
  show?: boolean;
  /** Where it runs, relative to the repository (--context): stacks/ for `cd stacks`. */
  dir?: string;
  /** Why it differs from the workshop's literal command, shown beside it. */
  departure?: string;
  /** Not the workshop's at all: a check the lab makes, shown as such. */
  check?: string;
  /** The shell variable the workshop keeps its output in: `CID=$(docker ps -q …)`. */
  assign?: string;
}

/** What a wait, a measure or an expect found: a piece of the step's ✓ line, and its figures for --report. */
export interface Reading {
  figure?: string;
  values?: Record<string, number | string>;
}

/** What the actions of a running chapter see. */
export interface Play {
  options: LabOptions;
  /** Read-only queries of the lab's own (ls, inspect, ps): never a change to the cluster. */
  docker: Docker;
  signal: AbortSignal;
  progress(line: string): void;
  /** The workshop's shell variables ($CID, $HOSTNAME, $TAG), filled in by the actions that learn them. */
  vars: Record<string, string>;
  /** Output of the commands that keep it, by key. */
  out: Record<string, string>;
  /** Every value read so far in the chapter (later steps compare with earlier ones). */
  figures: Record<string, number | string>;
}

/** What reverses a command that ran, run in reverse order when the chapter stops early. */
export interface Undo {
  /** What it removes or restores, to be settled when a later command of the chapter does it itself. */
  key: string;
  actions: Action[];
}

export type Action =
  | {
      do: 'run';
      command: Command;
      /** Runs only if this holds (the sheet says so): "nothing answers at the registry yet". */
      when?: { says: string; holds(play: Play): Promise<boolean> };
      /** Tried again until it succeeds (within --timeout), while this is not yet so. */
      retry?: string;
      /** Keep its output under this key (play.out). */
      keep?: string;
      undo?: Undo;
      /** Undo entries this command makes unnecessary (it removed or restored them itself). */
      settles?: string[];
    }
  | ({ do: 'wait'; for: string; until(play: Play): Promise<Reading | void> } & Watchable)
  | ({ do: 'measure'; what: string; measure(play: Play): Promise<Reading> } & Watchable)
  /** Throws a Failure with the reason when it does not hold; may add to the ✓ line. */
  | ({ do: 'expect'; that: string; check(play: Play): Promise<Reading | void> | Reading | void } & Watchable);

export interface Watchable {
  /**
   * Why this check cannot be played by watching the cluster (`--coach`): it reads what a command
   * of the step printed, or it watches across the command. Its chapter takes no --coach.
   */
  unwatchable?: string;
}

export interface Step {
  title: string;
  actions: Action[];
}

export interface ChapterScript {
  /** As the closing line names it: "The Swarm chapter". */
  name: string;
  /** The cheat sheet's header: the name and the options that shape the commands. */
  header: string;
  /** What it leaves running for the next chapter, and how to remove it. */
  leaves?: string;
  /** The step whose ✓ line sums the chapter up in `lab all`'s summary. */
  keyStep: string;
  steps: Step[];
}

/**
 * What the step shows, this engine cannot do (IPsec in docker-in-docker): thrown by an expect,
 * the step ends on ✗ with the reason and the evidence, and the chapter goes on to its next step.
 */
export class EngineLacks extends Failure {}

export type RunAction = Extract<Action, { do: 'run' }>;
export type CheckAction = Exclude<Action, RunAction>;

/** What a wait, a measure or an expect reads: the runner's and the coach's one way to play it. */
export function readState(a: CheckAction, play: Play): Promise<Reading | void> | Reading | void {
  if (a.do === 'wait') return a.until(play);
  if (a.do === 'measure') return a.measure(play);
  return a.check(play);
}

/** The steps `--coach` cannot check by watching, each with why: "2. Change the code (it reads …)". */
export const unwatchableSteps = (script: ChapterScript): string[] =>
  script.steps.flatMap((step, i) => {
    const why = [...new Set(step.actions.flatMap((a) => (a.do !== 'run' && a.unwatchable ? [a.unwatchable] : [])))];
    return why.length ? [`${i + 1}. ${step.title} (${why.join('; ')})`] : [];
  });

/** How the sheet names what a wait, a measure or an expect looks for. */
export const checkLabel = (a: CheckAction) => (a.do === 'wait' ? a.for : a.do === 'measure' ? a.what : a.that);
export const run = (command: Command, more: Omit<RunAction, 'do' | 'command'> = {}): RunAction => ({ do: 'run', command, ...more });
export const docker = (...args: string[]): Command => ({ args });
/** A command that differs from the workshop's literal one, and why. */
export const departs = (c: Command, ...why: (string | undefined)[]): Command => {
  const reasons = [c.departure, ...why].filter(Boolean);
  return reasons.length ? { ...c, departure: reasons.join('; ') } : c;
};
/** A command of the lab's own, not the workshop's, and what it checks. */
export const labCheck = (c: Command, why: string): Command => ({ ...c, check: why });
export const detached = '--detach: the lab waits for the tasks itself, with its own progress line';

/** The workshop's shell variables in a command, filled in where known ($CID stays $CID on the sheet). */
export function withVars(c: Command, vars: Record<string, string>): Command {
  const fill = (s: string) => s.replace(/\$(\w+)/g, (m, k: string) => vars[k] ?? m);
  return { ...c, args: c.args.map(fill), env: c.env && Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, fill(v)])), dir: c.dir && fill(c.dir) };
}

/** A command as the attendee types it: its variables, the program, the arguments. */
export function commandLine(c: Command): string {
  const line = `${Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${shellLine([v])} `).join('')}${c.program ?? 'docker'} ${shellLine(c.args)}`;
  return c.assign ? `${c.assign}=$(${line})` : line;
}

/** Where a command runs, when not in the repository on DOCKER_HOST: its build engine, its folder. */
function whereLine(c: Command, buildHost: string | undefined): string {
  const where = [c.dir ? `in ${c.dir}/` : '', c.build && buildHost ? `on ${buildHost}` : ''].filter(Boolean);
  return where.length ? `   # ${where.join(', ')}` : '';
}

/**
 * The sheet's lines for one action, as the runner's transcript also gives them: the command
 * (and where it runs), its departure or the lab's check, its condition and its undo (none with
 * --keep); or what
 * the lab waits for, measures and expects.
 */
export function actionLines(a: Action, { buildHost, keep }: Pick<LabOptions, 'buildHost' | 'keep'>): string[] {
  switch (a.do) {
    case 'run': {
      const c = a.command;
      return [
        ...(a.when ? [`#    only if ${a.when.says}:`] : []),
        `${commandLine(c)}${whereLine(c, buildHost)}`,
        ...(c.departure ? [`#    ↑ departs from the workshop: ${c.departure}`] : []),
        ...(c.check ? [`#    ↑ the lab's own check: ${c.check}`] : []),
        ...(a.undo && !keep ? a.undo.actions.flatMap((u) => actionLines(u, { buildHost, keep })).filter((l) => !l.startsWith('#')).map((l) => `#    ↺ undone on failure by: ${l}`) : []),
      ];
    }
    case 'wait':
      return [`#    wait: ${a.for}`];
    case 'measure':
      return [`#    measure: ${a.what}`];
    case 'expect':
      return [`#    expect: ${a.that}`];
  }
}

/** The cheat sheet: every step's actions, in the order the runner takes them. */
export function cheatSheet(script: ChapterScript, o: LabOptions): string {
  const lines = [`# ${script.header}`];
  for (const [i, step] of script.steps.entries()) lines.push('', `# ${i + 1}. ${step.title}`, ...step.actions.flatMap((a) => actionLines(a, o)));
  return `${lines.join('\n')}\n`;
}
