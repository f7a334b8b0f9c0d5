// What the operating chapters watch while Swarm changes the app: the web UI's /json polled
// twice a second (does it answer? does the counter only climb?), and an update's or a
// rollback's duration by the manager's own clock.
import { readCounters, type Counters } from '../swarm.js';
import { describeError } from '../../lib/errors.js';
import { sleep } from '../../lib/sleep.js';
import { Failure, waitUntil } from '../../lib/wait.js';
import type { Action, Play, Reading } from './script.js';
import { webuiUrl, type Probe } from './stack.js';

export interface WebuiWatch {
  answers: number;
  failures: number;
  /** Longest time without an answer, seconds (the web UI's clock on both sides). */
  longestGap: number;
  /** Readings lower than the one before: counted units lost. */
  decreases: { from: Counters; to: Counters }[];
  /** Why the failed polls failed, each reason once: a figure that says 1 failed should say how. */
  reasons: string[];
  first?: Counters;
  last?: Counters;
}

/** Polls the web UI until `stop()`; asks again where it answers after a failure (a host-mode port moves with its task). */
function watchWebui(ctx: Probe, everyMs = 500): { stop(): Promise<WebuiWatch> } {
  const watch: WebuiWatch = { answers: 0, failures: 0, longestGap: 0, decreases: [], reasons: [] };
  let polling = true;
  const loop = (async () => {
    let url = await webuiUrl(ctx).catch(() => undefined);
    while (polling && !ctx.signal.aborted) {
      try {
        url ??= await webuiUrl(ctx);
        const now = await readCounters(url, ctx.signal);
        if (watch.last) {
          watch.longestGap = Math.max(watch.longestGap, now.now - watch.last.now);
          if (now.hashes < watch.last.hashes || now.coins < watch.last.coins) watch.decreases.push({ from: watch.last, to: now });
        }
        watch.first ??= now;
        watch.last = now;
        watch.answers++;
      } catch (err) {
        watch.failures++;
        const reason = describeError(err);
        if (!watch.reasons.includes(reason)) watch.reasons.push(reason);
        url = undefined;
      }
      // The chapter's end (its signal) ends the watch too: a watch left polling keeps the process alive.
      await sleep(everyMs, ctx.signal).catch(() => {});
    }
  })();
  return {
    async stop() {
      polling = false;
      await loop;
      return watch;
    },
  };
}

/**
 * Actions that watch the web UI across those between them: `start` begins polling, `stop` ends
 * it and reads what it saw.
 */
export function webuiWatch(everyMs = 500) {
  let watch: { stop(): Promise<WebuiWatch> } | undefined;
  const start: Action = {
    do: 'measure',
    what: `the web UI's /json polled every ${everyMs} ms from here (answers, gaps, whether the counter goes down)`,
    measure: async (p) => {
      watch = watchWebui(p, everyMs);
      return {};
    },
  };
  /** Waits `until` (the change it watches is done), then stops the watch and reads it with what `until` found. */
  const stop = <T>(what: string, until: (p: Play) => Promise<T>, read: (seen: WebuiWatch, found: T) => Reading): Action => ({
    do: 'measure',
    what,
    // Each probe of the coach would end the watch: it must span the command, from before it is typed.
    unwatchable: 'it watches the web UI across the command',
    async measure(p) {
      let found: T;
      try {
        found = await until(p);
      } finally {
        await watch!.stop();
      }
      return read(await watch!.stop(), found);
    },
  });
  return { start, stop };
}

/** Hashes the counter lost: the sum of its falls. */
export const hashesLost = (w: WebuiWatch) => w.decreases.reduce((sum, d) => sum + Math.max(0, d.from.hashes - d.to.hashes), 0);

/** One line about a watch: answers, gap, and what the counter did. */
export function describeWatch(w: WebuiWatch): string {
  const failed = w.failures ? `${w.failures} failed (${w.reasons.join('; ')})` : '0 failed';
  const answers = `web UI: ${w.answers} answers, ${failed}, longest gap ${w.longestGap.toFixed(1)} s`;
  const falls = w.decreases.map((d) => `${d.from.hashes} → ${d.to.hashes} hashes, ${d.from.coins} → ${d.to.coins} coins`);
  return `${answers}; ${falls.length ? `counter went down: ${falls.join('; ')}` : `counter only climbed (${w.first?.hashes ?? '?'} → ${w.last?.hashes ?? '?'} hashes)`}`;
}

interface UpdateStatus {
  State?: string;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export async function updateStatus(ctx: Probe, service: string): Promise<UpdateStatus> {
  const out = await ctx.docker(['service', 'inspect', service, '--format', '{{json .UpdateStatus}}'], { signal: ctx.signal });
  return (JSON.parse(out) ?? {}) as UpdateStatus;
}

/**
 * Waits for the service's update (or rollback) that started after `before` (its status before
 * the command) to reach one of `states`; fails at once on another end state. Seconds by the
 * manager's clock.
 */
export async function waitForUpdateState(ctx: Probe, service: string, before: UpdateStatus, states: string[]): Promise<{ state: string; seconds: number; message: string }> {
  const ends = ['completed', 'paused', 'rollback_completed', 'rollback_paused'];
  const status = await waitUntil(
    `${service}: update ${states.join(' or ')}`,
    async () => {
      const s = await updateStatus(ctx, service);
      if (s.StartedAt === before.StartedAt) return undefined;
      ctx.progress(`${service}: ${s.State ?? 'no update yet'}${s.Message ? ` (${s.Message})` : ''}`);
      if (s.State && states.includes(s.State) && s.CompletedAt) return s;
      if (s.State && ends.includes(s.State) && s.CompletedAt) throw new Failure(`${service}: update ${s.State}, expected ${states.join(' or ')}: ${s.Message ?? ''}`);
      return undefined;
    },
    { timeoutMs: ctx.options.timeoutSeconds * 1000, signal: ctx.signal, everyMs: 500 },
  );
  return { state: status.State!, seconds: (Date.parse(status.CompletedAt!) - Date.parse(status.StartedAt!)) / 1000, message: status.Message ?? '' };
}
