// In-process stand-ins for the worker's upstreams, and a mocked clock to drive them: for tests of
// the worker's own timing (pauses, grace periods) where no load can stretch it.
import { createHash } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { memoryStore } from '../../src/lib/memory-store.js';
import { UpstreamError, type Upstream } from '../../src/worker/upstream.js';
import { Worker } from '../../src/worker/worker.js';

/**
 * An upstream answering `answer(body)`, or failing with `code` while `down()`; records when it was
 * called.
 */
export function stubUpstream(name: string, down: () => boolean, answer: (body?: Buffer) => Buffer, code = 'ECONNREFUSED') {
  const calledAt: number[] = [];
  const upstream = {
    call: async (_path: string, options: { body?: Buffer }) => {
      calledAt.push(Date.now());
      if (down()) throw new UpstreamError(name, `${name}: ${code}`, code);
      return { body: answer(options.body), instance: 'stub', ms: 1 };
    },
    close: async () => undefined,
  };
  return { upstream: upstream as unknown as Upstream, calledAt };
}

/** rng's 32 bytes and hasher's hex, as the real services answer. */
export const answers = {
  rng: () => Buffer.alloc(32, 7),
  hasher: (body?: Buffer) => Buffer.from(createHash('sha256').update(body!).digest('hex')),
};

/** Advances the mocked clock by `ms`, 10 ms at a time, letting the promises of each step settle. */
export async function advance(t: TestContext, ms: number) {
  for (let i = 0; i < ms / 10; i++) {
    t.mock.timers.tick(10);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A worker on stub upstreams and an in-memory store, its lines to `log` (none by default). */
export function stubWorker(upstreams: { rng: Upstream; hasher: Upstream }, { maxBackoffMs = 1000, log = pino({ level: 'silent' }) as FastifyBaseLogger } = {}) {
  return new Worker({
    name: 'stub',
    ...upstreams,
    store: memoryStore(),
    log,
    metrics: new Registry(),
    // A pause between units: the stubs answer at once, and a loop without one never yields.
    workDelayMs: 20,
    flushEveryMs: 1000,
    maxBackoffMs,
  });
}
