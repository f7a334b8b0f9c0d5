// `dockercoins lab <chapter> --coach`: the chapter's script (./script.ts) read by a second
// interpreter that runs none of its commands. It shows the attendee a step's commands as the
// sheet prints them, then plays the step's own waits, measures and expects as probes (each
// looks for a few seconds) until every one holds, whoever made it so, and prints the ✓ line
// the lab would. Between two looks it reads the cluster (./coach-state.ts) for the mistakes of
// ./mistakes.ts, and says what it waits for when nothing changes.
import { dockerCli, type Docker } from '../swarm.js';
import { sleep } from '../../lib/sleep.js';
import { clusterWatch, type ClusterState } from './coach-state.js';
import type { Mistake } from './mistakes.js';
import type { LabOptions } from './options.js';
import { minutes, queriesOnly } from './runner.js';
import { actionLines, checkLabel, readState, withVars, type CheckAction, type ChapterScript, type Play, type Reading, type Step } from './script.js';

export interface CoachIo {
  /** The docker CLI; the coach reaches it only through the lab's read-only guard. */
  docker?: Docker;
  signal?: AbortSignal;
  say?: (line: string) => void;
  /** Pause between two looks at the cluster, ms. */
  pollMs?: number;
  /** Seconds without a change before it says what it waits for. */
  idleSeconds: number;
  /** What it reads of the cluster for the mistakes (default: ./coach-state.ts). */
  readState?: (signal: AbortSignal) => Promise<ClusterState>;
  mistakes: Mistake[];
}

export interface CoachRun {
  done: { title: string; figure: string }[];
  steps: number;
  seconds: number;
  interrupted: boolean;
}

/** How long one wait of the chapter looks before the coach moves on to its other looks. */
const probeSeconds = 3;

interface Coaching {
  o: LabOptions;
  io: CoachIo;
  play: Play;
  say(line: string): void;
  read(signal: AbortSignal): Promise<ClusterState>;
  /** The mistakes said and not gone since: each is said once while it lasts. */
  shown: Set<string>;
  lastState: string;
  lastChange: number;
}

/**
 * The step's commands as the sheet prints them, each marked `$`, a conditional one under its
 * `only if` line: its condition is the lab's to test when it runs (and may record what it found).
 */
function showStep(step: Step, index: number, c: Coaching): void {
  c.say(`\n→ ${index + 1}. ${step.title}`);
  for (const a of step.actions) {
    // The lab's own checks (node ls) are not the attendee's to type.
    if (a.do !== 'run' || a.command.check) continue;
    const lines = actionLines({ ...a, command: withVars(a.command, c.play.vars) }, { buildHost: c.o.buildHost, keep: true });
    for (const line of lines) c.say(`  ${line.startsWith('#') ? line : `$ ${line}`}`);
  }
}

const changed = (c: Coaching) => (c.lastChange = Date.now());

/** One look at the cluster: the mistakes that appeared (each said once while it lasts); what it waits for, when nothing changed for --idle. */
async function look(c: Coaching, waitingFor: string[]): Promise<void> {
  const state = await c.read(c.play.signal).catch(() => undefined);
  if (state) {
    const signature = JSON.stringify({ ...state, rate: undefined });
    if (signature !== c.lastState) changed(c);
    c.lastState = signature;
    for (const m of c.io.mistakes) {
      const message = m.detect(state, c.o);
      if (!message) c.shown.delete(m.id);
      else if (!c.shown.has(m.id)) {
        c.shown.add(m.id);
        c.say(`${m.kind === 'note' ? 'ℹ' : '⚠'} ${message}`);
        changed(c);
      }
    }
  }
  if (Date.now() - c.lastChange >= c.io.idleSeconds * 1000) {
    c.say(`… still waiting for: ${waitingFor.join('; ')}`);
    changed(c);
  }
}

/**
 * The checks to play in this look: every one not yet held, except a measure whose step has not
 * reached the state it measures (a check before it still pending: global rng's speed is not
 * measured on rng scaled by hand), and a check after a measure still pending (logging's "before"
 * snapshot comes before the wait for the tasks it compares with).
 */
const ready = (checks: CheckAction[], readings: Map<CheckAction, Reading>) =>
  checks.filter((a, i) => !readings.has(a) && checks.slice(0, i).every((b) => readings.has(b) || (a.do !== 'measure' && b.do !== 'measure')));

/** Plays the checks ready, side by side (each wait looks for a few seconds at most); then the measures their readings made ready. */
async function playRound(checks: CheckAction[], readings: Map<CheckAction, Reading>, reasons: Map<CheckAction, string>, c: Coaching): Promise<void> {
  let batch = ready(checks, readings);
  while (batch.length && !c.play.signal.aborted) {
    const before = readings.size;
    await Promise.all(
      batch.map(async (a) => {
        try {
          const reading = (await readState(a, c.play)) ?? {};
          readings.set(a, reading);
          Object.assign(c.play.figures, reading.values);
          if (checks.length > 1) c.say(`  · ${reading.figure ?? checkLabel(a)}`);
          changed(c);
        } catch (err) {
          reasons.set(a, (err as Error).message);
        }
      }),
    );
    const tried = batch;
    batch = readings.size > before ? ready(checks, readings).filter((a) => !tried.includes(a)) : [];
  }
}

/** Plays the step's waits, measures and expects until each has held once, in any order; its ✓ figure, or undefined on Ctrl-C. */
async function untilReached(step: Step, c: Coaching): Promise<string | undefined> {
  const checks = step.actions.filter((a): a is CheckAction => a.do !== 'run');
  const readings = new Map<CheckAction, Reading>();
  const reasons = new Map<CheckAction, string>();
  while (!c.play.signal.aborted) {
    await playRound(checks, readings, reasons, c);
    if (c.play.signal.aborted) return undefined;
    if (readings.size === checks.length) return checks.map((a) => readings.get(a)!.figure).filter(Boolean).join('; ') || 'done';
    await look(c, checks.filter((a) => !readings.has(a)).map((a) => `${checkLabel(a)}${reasons.has(a) ? ` (now: ${reasons.get(a)})` : ''}`));
    await sleep(c.io.pollMs ?? 1000, c.play.signal);
  }
  return undefined;
}

/** The output of the chapter's commands, which the coach never runs: a check that reads it says so (and is marked unwatchable). */
const notRun = new Proxy<Record<string, string>>(
  {},
  {
    get: (_, key) => {
      throw new Error(`it reads what the command kept as ${String(key)} printed, and the coach runs no command`);
    },
  },
);

/** Coaches the chapter from its first step to its last, or until `signal` (Ctrl-C); ends with a summary. */
export async function coachScript(script: ChapterScript, o: LabOptions, io: CoachIo): Promise<CoachRun> {
  const signal = io.signal ?? new AbortController().signal;
  const say = io.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const docker = queriesOnly(io.docker ?? dockerCli);
  // Waits look for a few seconds (long enough to see a counter climb), then the coach looks again later.
  const play: Play = { options: { ...o, timeoutSeconds: probeSeconds }, docker, signal, progress: () => {}, vars: {}, out: notRun, figures: {} };
  const c: Coaching = { o, io, play, say, read: io.readState ?? clusterWatch(o, docker), shown: new Set(), lastState: '', lastChange: Date.now() };
  const started = Date.now();
  const done: CoachRun['done'] = [];
  say(`Coach: ${script.header}. Type each step's commands; the coach runs none of them, it watches the cluster and ticks each step when it is reached. Ctrl-C to stop.`);
  for (const [i, step] of script.steps.entries()) {
    showStep(step, i, c);
    const figure = await untilReached(step, c);
    if (figure === undefined) break;
    say(`✓ ${step.title}: ${figure}`);
    done.push({ title: step.title, figure });
  }
  const run = { done, steps: script.steps.length, seconds: Math.round((Date.now() - started) / 1000), interrupted: signal.aborted };
  say(summary(script, run));
  return run;
}

export function summary(script: ChapterScript, run: CoachRun): string {
  const how = run.interrupted ? `Coach stopped (Ctrl-C) after ${minutes(run.seconds)}` : `${script.name} done in ${minutes(run.seconds)}`;
  const next = script.steps[run.done.length];
  return [
    `\n${how}: ${run.done.length} of ${run.steps} steps done.`,
    ...run.done.map((d, i) => `  ${i + 1}. ${d.title}: ${d.figure}`),
    ...(next ? [`  next: ${run.done.length + 1}. ${next.title}`] : []),
  ].join('\n');
}

/** `dockercoins lab <chapter> --coach`: until the last step or Ctrl-C (exit code 130). */
export async function runCoach(script: ChapterScript, o: LabOptions, mistakes: Mistake[], idleSeconds: number): Promise<CoachRun> {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = await coachScript(script, o, { signal: interrupt.signal, idleSeconds, mistakes });
    if (run.interrupted) process.exitCode = 130;
    return run;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
