// The lab runner every chapter shares: it prints each docker command a step runs (the chapter's
// own), runs it with the user's docker CLI, shows what the step waits for, and ends the step on
// one ✓ or ✗ line with the figure it measured. A chapter is plain data (its steps) so that
// `--dry-run` prints it as a cheat sheet and tests can check it.
import path from 'node:path';
import { Listr } from 'listr2';
import { dockerCli, shellLine, type Docker } from '../swarm.js';
import type { LabRun, RunnerIo, RunnerOptions, StepResult } from './runner.js';

export type { Chapter, LabRun, RunnerIo } from './runner.js';

export interface Outcome {
  figure: string;
  values?: Record<string, number | string>;
}

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
  /** The shell variable the workshop keeps its output in: `CID=$(docker ps -q …)`. */
  assign?: string;
}

/** A command as the attendee types it: its variables, the program, the arguments. */
export function commandLine(c: Command): string {
  const line = `${Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${shellLine([v])} `).join('')}${c.program ?? 'docker'} ${shellLine(c.args)}`;
  return c.assign ? `${c.assign}=$(${line})` : line;
}

export interface StepContext<O extends RunnerOptions, S> {
  options: O;
  state: S;
  docker: Docker;
  signal: AbortSignal;
  /** Prints and runs one of the step's commands; resolves with its output. */
  run(command: Command): Promise<string>;
  progress(line: string): void;
}

export interface LabStep<O extends RunnerOptions, S> {
  title: string;
  commands: Command[];
  /** The outcome the chapter promises, for the cheat sheet. */
  expect: string;
  run(ctx: StepContext<O, S>): Promise<Outcome>;
}

/** How a chapter removes what it created when it stops early. */
export interface Cleanup<O extends RunnerOptions, S> {
  /** Whether the chapter created anything yet. */
  needed(state: S): boolean;
  run(ctx: StepContext<O, S>): Promise<unknown>;
}

/** The cheat sheet: every step's commands and what to look for. */
export function cheatSheet<O extends RunnerOptions, S>(header: string, steps: LabStep<O, S>[], o: O): string {
  const lines = [`# ${header}`];
  for (const [i, step] of steps.entries()) {
    lines.push('', `# ${i + 1}. ${step.title}`);
    for (const c of step.commands) {
      lines.push(`${commandLine(c)}${c.build && o.buildHost ? `   # on ${o.buildHost}` : ''}`);
      if (c.departure) lines.push(`#    ↑ departs from the workshop: ${c.departure}`);
    }
    lines.push(`#    expect: ${step.expect}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Runs the steps in order with listr2 (a spinner and what it waits for on a terminal, plain
 * lines otherwise). Stops at the first failure or when `signal` aborts; then cleans up what it
 * created unless `keep`.
 */
export async function runSteps<O extends RunnerOptions, S>(steps: LabStep<O, S>[], o: O, state: S, cleanup: Cleanup<O, S>, io: RunnerIo = {}): Promise<LabRun> {
  const dockerRun = io.docker ?? dockerCli;
  const signal = io.signal ?? new AbortController().signal;
  const say = io.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const results: StepResult[] = [];
  const started = Date.now();
  let reason: string | undefined;

  for (const step of steps) {
    const stepStarted = Date.now();
    const list = new Listr(
      [
        {
          title: step.title,
          // Keep the commands and their shown output under the ✓ line.
          rendererOptions: { persistentOutput: true, outputBar: Infinity },
          task: async (_ctx, task) => {
            const ctx = stepContext(o, state, dockerRun, signal, (line) => (task.output = line), (line) => (task.title = `${step.title} … ${line}`));
            try {
              const outcome = await step.run(ctx);
              task.title = `${step.title}: ${outcome.figure}`;
              results.push({ title: step.title, ok: true, figure: outcome.figure, values: outcome.values, seconds: seconds(stepStarted) });
            } catch (err) {
              const message = signal.aborted ? 'interrupted (Ctrl-C)' : (err as Error).message;
              task.title = `${step.title}: ${message}`;
              results.push({ title: step.title, ok: false, figure: message, seconds: seconds(stepStarted) });
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
      reason = `${step.title}: ${(err as Error).message}`;
      break;
    }
  }

  if (reason && !o.keep && cleanup.needed(state)) {
    say('Cleaning up what the lab created (use --keep to leave it):');
    const ctx = stepContext(o, state, dockerRun, new AbortController().signal, say, say);
    await cleanup.run(ctx).catch((err: Error) => say(`cleanup failed: ${err.message}`));
  }
  return { ok: !reason, results, seconds: seconds(started), reason };
}

function stepContext<O extends RunnerOptions, S>(
  options: O,
  state: S,
  dockerRun: Docker,
  signal: AbortSignal,
  output: (line: string) => void,
  progress: (line: string) => void,
): StepContext<O, S> {
  return {
    options,
    state,
    docker: dockerRun,
    signal,
    progress,
    async run(command) {
      const host = command.build ? options.buildHost : undefined;
      output(`$ ${commandLine(command)}${host ? `   (DOCKER_HOST=${host})` : ''}`);
      if (command.departure) output(`  ↑ departs from the workshop: ${command.departure}`);
      const out = await dockerRun(command.args, { host, signal, program: command.program, env: command.env, cwd: path.resolve(options.context ?? '.', command.dir ?? '.') });
      if (command.show) for (const line of out.split('\n')) output(`  ${line}`);
      return out;
    },
  };
}

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;
