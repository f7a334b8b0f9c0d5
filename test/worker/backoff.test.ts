// The worker's pauses after failures, on a mocked clock: 100 ms doubled up to MAX_BACKOFF_MS,
// then the next try after the dependency is back succeeds. The process tests count tries
// (test/worker/faults.test.ts); the pauses' lengths are checked here, where no load can stretch them.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { advance, answers, stubUpstream, stubWorker } from '../helpers/stub-upstream.js';

const MAX_BACKOFF_MS = 1000;

it('backs off 100 ms doubled up to MAX_BACKOFF_MS after each failure, and resumes at the next try', { timeout: 20_000 }, async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  let rngDown = true;
  const rng = stubUpstream('rng', () => rngDown, answers.rng);
  const hasher = stubUpstream('hasher', () => false, answers.hasher);
  const worker = stubWorker({ rng: rng.upstream, hasher: hasher.upstream }, { maxBackoffMs: MAX_BACKOFF_MS });
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
