// A dependency that is not up yet at the worker's start (Swarm starts services in any order) is
// said as info, and warned about only past STARTING_GRACE_MS; once it has answered, a failure
// is a warning at once. On a mocked clock: the grace is the worker's own time, not the test's.
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { STARTING_GRACE_MS } from '../../src/worker/streaks.js';
import { advance, answers, stubUpstream, stubWorker } from '../helpers/stub-upstream.js';

interface Line {
  level: number;
  msg: string;
  dependency?: string;
}

/** A worker whose rng fails with `code` while `rngDown()`; its log lines about rng. */
function start(t: TestContext, rngDown: () => boolean, code: string) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) }) as FastifyBaseLogger;
  const rng = stubUpstream('rng', rngDown, answers.rng, code);
  const hasher = stubUpstream('hasher', () => false, answers.hasher);
  const worker = stubWorker({ rng: rng.upstream, hasher: hasher.upstream }, { log });
  worker.start();
  const about = (level: number) => lines.filter((l) => l.dependency === 'rng' && l.level === level).map((l) => l.msg);
  return { worker, warnings: () => about(40), infos: () => about(30) };
}

async function stop(t: TestContext, worker: ReturnType<typeof stubWorker>) {
  const stopped = worker.stop();
  await advance(t, 1000);
  await stopped;
}

for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED']) {
  it(`rng not up yet at start (${code}): one info line, no warning, then back`, { timeout: 20_000 }, async (t) => {
    let down = true;
    const { worker, warnings, infos } = start(t, () => down, code);
    await advance(t, STARTING_GRACE_MS / 2);
    down = false;
    await advance(t, 1500);
    assert.deepEqual(warnings(), []);
    assert.match(infos()[0] ?? '', new RegExp(`^waiting for rng: rng: ${code}$`));
    assert.match(infos()[1] ?? '', /^rng is back after \d+ failures/);
    assert.ok(worker.summary().units > 0, 'the worker works once rng is up');
    await stop(t, worker);
  });
}

it('rng not up past STARTING_GRACE_MS: one warning then, one for the whole streak', { timeout: 30_000 }, async (t) => {
  const { worker, warnings, infos } = start(t, () => true, 'ENOTFOUND');
  await advance(t, STARTING_GRACE_MS - 1500);
  assert.deepEqual(warnings(), [], 'no warning within the grace');
  await advance(t, 5000);
  assert.equal(warnings().length, 1, `warnings: ${JSON.stringify(warnings())}`);
  assert.match(warnings()[0]!, /^rng: ENOTFOUND; retrying/);
  assert.equal(infos().length, 1);
  await stop(t, worker);
});

it('rng refusing after it has answered: a warning at once', { timeout: 20_000 }, async (t) => {
  let down = false;
  const { worker, warnings } = start(t, () => down, 'ECONNREFUSED');
  await advance(t, 500);
  down = true;
  await advance(t, 500);
  assert.deepEqual(warnings().map((w) => w.replace(/;.*/, '')), ['rng: ECONNREFUSED']);
  await stop(t, worker);
});

it('an answer that is wrong from the start: a warning at once, not a wait', { timeout: 20_000 }, async (t) => {
  const { worker, warnings, infos } = start(t, () => true, 'EBADANSWER');
  await advance(t, 500);
  assert.equal(warnings().length, 1);
  assert.deepEqual(infos(), []);
  await stop(t, worker);
});
