// The worker's pauses after failures, on a mocked clock: 100 ms doubled up to MAX_BACKOFF_MS,
// then the next try after the dependency is back succeeds. The process tests count tries
// (test/worker/faults.test.ts); the pauses' lengths are checked here, where no load can stretch them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it, type TestContext } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { memoryStore } from '../../src/lib/memory-store.js';
import { UpstreamError, type Upstream } from '../../src/worker/upstream.js';
import { Worker } from '../../src/worker/worker.js';

const MAX_BACKOFF_MS = 1000;

/** An upstream answering `answer(body)`, or failing while `down()`; records when it was called. */
function stubUpstream(name: string, down: () => boolean, answer: (body?: Buffer) => Buffer) {
  const calledAt: number[] = [];
  const upstream = {
    call: async (_path: string, options: { body?: Buffer }) => {
      calledAt.push(Date.now());
      if (down()) throw new UpstreamError(name, `${name}: connect ECONNREFUSED`);
      return { body: answer(options.body), instance: 'stub', ms: 1 };
    },
    close: async () => undefined,
  };
  return { upstream: upstream as unknown as Upstream, calledAt };
}

/** Advances the mocked clock by `ms`, 10 ms at a time, letting the promises of each step settle. */
async function advance(t: TestContext, ms: number) {
  for (let i = 0; i < ms / 10; i++) {
    t.mock.timers.tick(10);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

it('backs off 100 ms doubled up to MAX_BACKOFF_MS after each failure, and resumes at the next try', { timeout: 20_000 }, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  let rngDown = true;
  const rng = stubUpstream('rng', () => rngDown, () => Buffer.alloc(32, 7));
  const hasher = stubUpstream('hasher', () => false, (body) => Buffer.from(createHash('sha256').update(body!).digest('hex')));
  const worker = new Worker({
    name: 'backoff',
    rng: rng.upstream,
    hasher: hasher.upstream,
    store: memoryStore(),
    log: pino({ level: 'silent' }),
    metrics: new Registry(),
    // A pause between units: the stubs answer at once, and a loop without one never yields.
    workDelayMs: 20,
    flushEveryMs: 1000,
    maxBackoffMs: MAX_BACKOFF_MS,
  });
  worker.start();
  await advance(t, 5000);
  rngDown = false;
  const triesWhileDown = rng.calledAt.length;
  await advance(t, MAX_BACKOFF_MS);

  const pauses = rng.calledAt.slice(1, triesWhileDown + 1).map((at, i) => at - rng.calledAt[i]!);
  assert.deepEqual(pauses.slice(0, 6), [100, 200, 400, 800, 1000, 1000]);
  assert.ok(pauses.every((ms) => ms <= MAX_BACKOFF_MS), `pauses ${pauses.join(', ')} ms`);
  // The first try after rng is back succeeds: the worker goes on working.
  assert.ok(rng.calledAt.length > triesWhileDown + 1, 'the worker resumed');
  assert.equal(worker.summary().units, rng.calledAt.length - triesWhileDown, 'every try after the return made a unit');

  const stopped = worker.stop();
  await advance(t, 1000);
  assert.equal((await stopped).notSaved, 0);
});
