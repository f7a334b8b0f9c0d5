// The one runner of the lab: it plays a chapter's script (./script.ts) action by action. A
// command is printed as the sheet prints it and run with the user's docker CLI; a wait, a
// measure or an expect shows what it waits for; each step ends on one ✓ or ✗ line made of what
// its actions read, and --report holds that same line and its figures. When a step fails or
// Ctrl-C stops it, what the chapter's commands did is undone in reverse, unless --keep.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Listr } from 'listr2';
import { dockerCli, type Docker } from '../swarm.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { LabOptions } from './options.js';
import { EngineLacks, actionLines, cheatSheet as cheatSheetOf, commandLine, readState, withVars, type Action, type ChapterScript, type Play, type Reading, type Undo } from './script.js';

/** What every chapter's options say about running it. */
export interface RunnerOptions {
  /** Docker engine that builds and pushes the images (default: the same as the Swarm's). */
  buildHost?: string;
  /** Leave what the chapter created in place after a failure. */
  keep: boolean;
  /** Where the workshop's relative paths (stacks/, src/) are: the repository. */
  context?: string;
}

export interface StepResult {
  title: string;
  ok: boolean;
  figure: string;
  seconds: number;
  values?: Record<string, number | string>;
  /** ✗ because the engine cannot do it (EngineLacks): the chapter went on. */
  engineLacks?: true;
}

export interface LabRun {
  /** Every step ✓. */
  ok: boolean;
  results: StepResult[];
  seconds: number;
  /** Why it stopped, when it did not finish. */
  reason?: string;
  /** What this engine could not do, when the chapter ran to its end all the same (the ✗ lines). */
  engineLacks?: string[];
}

export interface RunnerIo {
  docker?: Docker;
  signal?: AbortSignal;
  say?: (line: string) => void;
  renderer?: 'default' | 'simple' | 'silent';
  /**
   * A rehearsal: commands run (on `docker`, a fake), waits, measures and expects do not, and
   * every action's sheet lines go to `transcript` as the runner takes it.
   */
  rehearsal?: { transcript: string[] };
}

/** What the CLI needs of a chapter. */
export interface Chapter {
  name: string;
  leaves?: string;
  /** The step whose figure sums the chapter up in `lab all`'s summary. */
  keyStep?: string;
  cheatSheet(): string;
  run(io: RunnerIo): Promise<LabRun>;
}

interface Playing {
  play: Play;
  o: LabOptions;
  dockerRun: Docker;
  undo: Undo[];
  rehearsal?: { transcript: string[] };
  output(line: string): void;
}

/** Runs one action; a command that names its undo leaves it on the stack. */
async function perform(a: Action, p: Playing): Promise<Reading | void> {
  p.rehearsal?.transcript.push(...actionLines(a, p.o));
  if (a.do !== 'run') {
    return p.rehearsal ? undefined : readState(a, p.play);
  }
  if (a.when && !p.rehearsal && !(await a.when.holds(p.play))) return;
  const c = withVars(a.command, p.play.vars);
  const host = c.build ? p.o.buildHost : undefined;
  p.output(`$ ${commandLine(c)}${host ? `   (DOCKER_HOST=${host})` : ''}${c.dir ? `   (in ${c.dir}/)` : ''}`);
  if (c.departure) p.output(`  ↑ departs from the workshop: ${c.departure}`);
  const cwd = path.resolve(p.o.context ?? '.', c.dir ?? '.');
  const once = () => p.dockerRun(c.args, { host, signal: p.play.signal, program: c.program, env: c.env, cwd });
  const tried = a.retry ? waitUntil(a.retry, once, { timeoutMs: p.o.timeoutSeconds * 1000, signal: p.play.signal, progress: p.play.progress }) : once();
  const out = await tried.catch((err: Error) => {
    // A Swarm's manager that cannot build (no registry to pull the base image from, no builder).
    if (c.build && !p.o.buildHost) throw new Failure(`${err.message}; where this engine cannot build or reach a registry, build on one that can: --build-host <docker-host>`, { cause: err });
    throw err;
  });
  if (c.show) for (const line of out.split('\n')) p.output(`  ${line}`);
  if (c.assign) p.play.vars[c.assign] = out.trim();
  if (a.keep) p.play.out[a.keep] = out;
  if (a.settles) p.undo = p.undo.filter((u) => !a.settles!.includes(u.key));
  if (a.undo) p.undo.push({ key: a.undo.key, actions: a.undo.actions.map((u) => (u.do === 'run' ? { ...u, command: withVars(u.command, p.play.vars) } : u)) });
}

/** The step's ✓ line: what its actions read, in order. */
async function playStep(actions: Action[], p: Playing): Promise<{ figure: string; values: Record<string, number | string> }> {
  const figures: string[] = [];
  const values: Record<string, number | string> = {};
  for (const a of actions) {
    const reading = await perform(a, p);
    if (reading?.figure) figures.push(reading.figure);
    Object.assign(values, reading?.values);
    Object.assign(p.play.figures, reading?.values);
  }
  return { figure: figures.join('; ') || (p.rehearsal ? 'rehearsed' : 'done'), values };
}

/**
 * Plays the chapter's steps in order with listr2 (a spinner and what it waits for on a terminal,
 * plain lines otherwise). Stops at the first failure or when `signal` aborts; then undoes what
 * ran, in reverse, unless `keep`.
 */
export async function playScript(script: ChapterScript, o: LabOptions, io: RunnerIo = {}): Promise<LabRun> {
  const signal = io.signal ?? new AbortController().signal;
  const say = io.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  // Ends with the chapter too, so that nothing it started (a watch of the web UI) outlives it.
  const chapterDone = new AbortController();
  const dockerRun = io.docker ?? dockerCli;
  const play: Play = { options: o, docker: queriesOnly(dockerRun), signal: AbortSignal.any([signal, chapterDone.signal]), progress: () => {}, vars: {}, out: {}, figures: {} };
  const p: Playing = { play, o, dockerRun, undo: [], rehearsal: io.rehearsal, output: say };
  const results: StepResult[] = [];
  const started = Date.now();
  let reason: string | undefined;

  for (const [i, step] of script.steps.entries()) {
    const stepStarted = Date.now();
    p.rehearsal?.transcript.push(`# ${i + 1}. ${step.title}`);
    const list = new Listr(
      [
        {
          title: step.title,
          // Keep the commands and their shown output under the ✓ line.
          rendererOptions: { persistentOutput: true, outputBar: Infinity },
          task: async (_ctx, task) => {
            p.output = (line) => (task.output = line);
            play.progress = (line) => (task.title = `${step.title} … ${line}`);
            try {
              const { figure, values } = await playStep(step.actions, p);
              task.title = `${step.title}: ${figure}`;
              results.push({ title: step.title, ok: true, figure, values: Object.keys(values).length ? values : undefined, seconds: seconds(stepStarted) });
            } catch (err) {
              const message = signal.aborted ? 'interrupted (Ctrl-C)' : (err as Error).message;
              task.title = `${step.title}: ${message}`;
              results.push({ title: step.title, ok: false, figure: message, seconds: seconds(stepStarted), ...(err instanceof EngineLacks && !signal.aborted && { engineLacks: true as const }) });
              throw new Error(message, { cause: err });
            }
          },
        },
      ],
      {
        renderer: io.renderer ?? 'default',
        fallbackRenderer: 'simple',
        exitOnError: true,
        registerSignalListeners: false,
        rendererOptions: { icon: { COMPLETED: '✓', FAILED: '✗' }, collapseErrors: false },
        fallbackRendererOptions: { icon: { COMPLETED: '✓', FAILED: '✗' } },
      },
    );
    try {
      await list.run();
    } catch (err) {
      if (results.at(-1)?.engineLacks) continue;
      reason = `${step.title}: ${(err as Error).message}`;
      break;
    }
  }

  chapterDone.abort();
  if (reason && !o.keep && p.undo.length) await undoAll(p, say);
  const lacks = results.filter((r) => r.engineLacks).map((r) => `${r.title}: ${r.figure}`);
  return { ok: !reason && !lacks.length, results, seconds: seconds(started), reason, ...(lacks.length && !reason && { engineLacks: lacks }) };
}

/** Undoes what ran, last first, each undo as the sheet names it. */
async function undoAll(p: Playing, say: (line: string) => void): Promise<void> {
  say('Cleaning up what the lab created (use --keep to leave it):');
  p.output = say;
  p.play.progress = say;
  p.play.signal = new AbortController().signal;
  p.rehearsal?.transcript.push('# clean-up');
  for (const u of p.undo.reverse()) {
    for (const a of u.actions) await perform(a, p).catch((err: Error) => say(`cleanup failed: ${err.message}`));
  }
  p.undo = [];
}

/** Commands that only read: what a wait, a measure or an expect (and the coach) may run without being on the sheet. */
export const readOnly = (args: string[], program = 'docker') => {
  const [first = '', second = ''] = args.filter((a) => !a.startsWith('-') && !a.endsWith('.yml'));
  if (program === 'docker-compose') return ['ps', 'logs', 'config'].includes(first);
  if (program !== 'docker') return false;
  if (['node', 'service', 'network', 'volume', 'image', 'stack', 'container'].includes(first)) return ['ls', 'inspect', 'ps', 'logs'].includes(second);
  return ['info', 'ps', 'inspect', 'logs', 'version'].includes(first);
};

/** The lab's own queries: anything that changes the cluster must be a command on the sheet. */
export const queriesOnly =
  (docker: Docker): Docker =>
  (args, o) => {
    if (!readOnly(args, o?.program)) return Promise.reject(new Error(`${commandLine({ args, program: o?.program })}: not a query; a change to the cluster is a command on the sheet (a run action)`));
    return docker(args, o);
  };

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

/** A chapter for the CLI from its script. */
export const scriptChapter = (script: ChapterScript, o: LabOptions): Chapter => ({
  name: script.name,
  leaves: script.leaves,
  keyStep: script.keyStep,
  cheatSheet: () => cheatSheetOf(script, o),
  run: (io) => playScript(script, o, io),
});

/** Exit status of a chapter that ran to its end but whose engine could not do what a step shows. */
export const ENGINE_LACKS_EXIT = 2;

/**
 * `dockercoins lab <chapter>`: exits 1 with the reason when a step fails, 130 on Ctrl-C, 2
 * when it ran to its end but the engine could not do what a step shows.
 */
export async function runChapter(chapter: Chapter, o: RunnerOptions & { dryRun: boolean; report?: string }): Promise<LabRun> {
  if (o.dryRun) {
    process.stdout.write(chapter.cheatSheet());
    return { ok: true, results: [], seconds: 0 };
  }
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  // `on`, not `once`: execa's exit hook re-raises a signal that no other listener is left to handle.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let run: LabRun;
  try {
    run = await chapter.run({ signal: interrupt.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (o.report) await writeFile(o.report, `${JSON.stringify(run, null, 2)}\n`);
  if (run.ok) {
    process.stdout.write(`\n${chapter.name} ran in ${minutes(run.seconds)}: every step checked.${chapter.leaves ? ` ${chapter.leaves}` : ''}${o.keep ? ' The app is still running (--keep).' : ''}\n`);
    return run;
  }
  if (run.engineLacks) {
    process.stderr.write(`\n${chapter.name} ran to its end in ${minutes(run.seconds)}, but this engine could not do what it shows: ${run.engineLacks.join('; ')}\n`);
    process.exitCode = ENGINE_LACKS_EXIT;
    return run;
  }
  process.stderr.write(`\nThe lab stopped after ${minutes(run.seconds)}: ${run.reason}\n`);
  process.exitCode = interrupt.signal.aborted ? 130 : 1;
  return run;
}

export const minutes = (s: number) => `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
