// The worker's failures, by dependency: counted in worker_errors_total, and said in one line
// when a streak starts and one when it ends, however many tries it takes.
import type { FastifyBaseLogger } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { describeError, errorCode } from '../lib/errors.js';
import { UpstreamError } from './upstream.js';

export type Dependency = 'rng' | 'hasher' | 'redis';

/** How long a dependency that never answered yet may be missing before it is warned about. */
export const STARTING_GRACE_MS = 30_000;

interface Streak {
  since: number;
  count: number;
  /** Before the dependency's first answer: said as info until STARTING_GRACE_MS. */
  waiting: boolean;
}

export class FailureStreaks {
  private readonly failing = new Map<Dependency, Streak>();
  /** Dependencies that have answered at least once since start. */
  private readonly everAnswered = new Set<Dependency>();
  private readonly errors: Counter<'dependency'>;

  /** `quiet()`: the final line is out, and nothing more may be logged. */
  constructor(
    private readonly log: FastifyBaseLogger,
    registers: Registry[],
    private readonly quiet: () => boolean,
  ) {
    this.errors = new Counter({ name: 'worker_errors_total', help: 'Failed calls, by dependency', labelNames: ['dependency'] as const, registers });
    for (const dependency of ['rng', 'hasher', 'redis']) this.errors.inc({ dependency }, 0);
  }

  failed(dependency: Dependency, err: unknown): void {
    this.errors.inc({ dependency });
    const message = err instanceof UpstreamError ? err.message : `${dependency}: ${describeError(err)}`;
    const streak = this.failing.get(dependency);
    if (streak) {
      streak.count += 1;
      if (streak.waiting && Date.now() - streak.since >= STARTING_GRACE_MS) {
        streak.waiting = false;
        if (!this.quiet()) this.warn(dependency, message);
      }
      return;
    }
    const waiting = !this.everAnswered.has(dependency) && notUpYet(err);
    this.failing.set(dependency, { since: Date.now(), count: 1, waiting });
    if (this.quiet()) return;
    if (waiting) this.log.info({ dependency }, `waiting for ${dependency}: ${message}`);
    else this.warn(dependency, message);
  }

  recovered(dependency: Dependency): void {
    this.everAnswered.add(dependency);
    const streak = this.failing.get(dependency);
    if (!streak) return;
    this.failing.delete(dependency);
    if (this.quiet()) return;
    const seconds = ((Date.now() - streak.since) / 1000).toFixed(1);
    this.log.info({ dependency, failures: streak.count }, `${dependency} is back after ${streak.count} failures in ${seconds} s`);
  }

  private warn(dependency: Dependency, message: string): void {
    this.log.warn({ dependency }, `${message}; retrying (work is kept, nothing is lost)`);
  }
}

/**
 * A name not found yet, or a port that refuses: how a dependency looks while it starts (Swarm
 * starts services in any order, and a task enters DNS once it runs).
 */
function notUpYet(err: unknown): boolean {
  const code = err instanceof UpstreamError ? err.code : errorCode(err);
  return code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ECONNREFUSED';
}
