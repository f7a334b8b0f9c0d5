// The worker against real processes: Redis, rng and hasher stopped in turn while it runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { metricValue } from '../helpers/metrics.js';
import { startService, startUpstreams, waitFor, workerShutdownMs, type ServiceProcess } from '../helpers/processes.js';
import { testRedis } from '../helpers/redis.js';

const fast = { RNG_DELAY_MS: '20', HASHER_DELAY_MS: '20', WORK_DELAY_MS: '20' };
const units = (worker: ServiceProcess) => metricValue(worker.url, 'worker_units_total');
const warnings = (worker: ServiceProcess, dependency: string) =>
  worker.logs.filter((l) => l.level === 40 && l.dependency === dependency);

const errorsOn = (worker: ServiceProcess, dependency: string) => metricValue(worker.url, 'worker_errors_total', { dependency });
const MAX_BACKOFF_MS = 1000;

/**
 * Failed attempts counted from now until the worker's unit count moves again: how many tries
 * it took to resume, whatever the machine's pace (a bound in seconds would be the test's).
 */
async function failuresUntilResumed(worker: ServiceProcess, dependency: string): Promise<number> {
  const [before, errorsBefore] = [await units(worker), await errorsOn(worker, dependency)];
  await waitFor('the worker to resume', async () => ((await units(worker)) > before ? true : undefined), 5000);
  return (await errorsOn(worker, dependency)) - errorsBefore;
}

/** The shortest time, in ms, the worker's backoff (100 ms, doubled up to its cap) lets `failures` take. */
function backoffMs(failures: number): number {
  let [total, pause] = [0, 0];
  for (let i = 0; i < failures; i++) total += pause = Math.min(Math.max(pause * 2, 100), MAX_BACKOFF_MS);
  return total;
}

/** The worker's own account of a streak: its 'is back after N failures in S s' line. */
const streak = (worker: ServiceProcess, dependency: string) =>
  waitFor(`a recovery line for ${dependency}`, () => {
    const line = worker.logs.find((l) => l.dependency === dependency && /is back after \d+ failures/.test(l.msg));
    const [, failures, seconds] = /after (\d+) failures in ([\d.]+) s/.exec(line?.msg ?? '') ?? [];
    return line && { failures: Number(failures), ms: Number(seconds) * 1000 };
  }, 1000);

describe('worker faults (real redis-server, rng, hasher and worker processes)', () => {
  it('survives Redis, rng and hasher going away in turn, logs one line per streak, resumes at its next tries', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { rng, hasher, workerEnv } = await startUpstreams(t, fast, redis.url);
    const worker = await startService(t, 'worker', { ...workerEnv, MAX_BACKOFF_MS: String(MAX_BACKOFF_MS) });
    await waitFor('first flush', async () => ((await redis.client.get('hashes')) ? true : undefined));

    // Redis: the worker keeps working and keeps its count; the counter resumes once Redis is back.
    await redis.stop();
    const unitsBefore = await units(worker);
    await delay(2000);
    assert.ok((await units(worker)) > unitsBefore, 'the worker kept working while Redis was down');
    await redis.start();
    // Read once Redis is up: a flush failing in the client's reconnect gap (at most 500 ms, a
    // flush a second) and one in flight; more would mean the worker does not resume by itself.
    const redisErrorsBack = await errorsOn(worker, 'redis');
    await waitFor('the counter after Redis restarted', async () => ((await redis.client.get('hashes')) ? true : undefined), 5000);
    const redisFailuresAfter = (await errorsOn(worker, 'redis')) - redisErrorsBack;
    assert.ok(redisFailuresAfter <= 2, `${redisFailuresAfter} failed flushes after Redis was back`);
    assert.ok(Number(await redis.client.get('hashes')) >= (await units(worker)) - unitsBefore - 50, 'the units done while Redis was down were saved');

    for (const dependency of [rng, hasher]) {
      const errorsBefore = await metricValue(worker.url, 'worker_errors_total', { dependency: dependency.name });
      const { code } = await dependency.stop('SIGKILL');
      assert.equal(code, null);
      await delay(2000);
      const errors = (await errorsOn(worker, dependency.name)) - errorsBefore;
      assert.ok(errors >= 2, `${errors} failed attempts on ${dependency.name} in 2 s`);
      await dependency.restart();
      // Resumed at its next try (one may be in flight): within its capped backoff of the return.
      const failuresAfter = await failuresUntilResumed(worker, dependency.name);
      assert.ok(failuresAfter <= 1, `${failuresAfter} failed attempts after ${dependency.name} was back`);
      // Backoff, not a busy loop: by the worker's own clock, no more tries than its pauses allow.
      const { failures, ms } = await streak(worker, dependency.name);
      assert.ok(backoffMs(failures) <= ms + 50 + failures, `${failures} failures in ${ms} ms (backoff allows ${backoffMs(failures)} ms)`);
      t.diagnostic(`${dependency.name} down 2 s: ${failures} attempts in ${ms} ms by the worker's clock, ${failuresAfter} after it was back`);
    }
    t.diagnostic(`redis down 2 s: ${redisFailuresAfter} failed flushes after it was back`);

    assert.equal(worker.child.exitCode, null, 'the worker is still running');
    for (const dependency of ['redis', 'rng', 'hasher']) {
      // Logs reach stdout in batches (at most 100 ms late).
      await waitFor(`a recovery line for ${dependency}`, async () =>
        worker.logs.some((l) => l.dependency === dependency && /is back after \d+ failures/.test(l.msg)) ? true : undefined,
      1000);
      const lines = warnings(worker, dependency);
      assert.equal(lines.length, 1, `one warning for the ${dependency} streak: ${JSON.stringify(lines)}`);
    }
    assert.match(warnings(worker, 'rng')[0]!.msg, /^rng at http:\/\/127\.0\.0\.1:\d+\/32: (connect ECONNREFUSED|ECONNRESET socket hang up|read ECONNRESET)/);
  });
});

describe('worker shutdown', () => {
  it('SIGTERM: every worker exits 0 within its deadline and the counter equals the units they report, 0 lost', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { workerEnv } = await startUpstreams(t, { RNG_DELAY_MS: '10', HASHER_DELAY_MS: '10', WORK_DELAY_MS: '10' }, redis.url);
    const workers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => startService(t, 'worker', { ...workerEnv, INSTANCE_NAME: `worker-${i + 1}` })),
    );
    await delay(2500);
    const exits = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    for (const exit of exits) assert.equal(exit.code, 0, 'exit code 0: the worker met its own shutdown deadline (exit 1 past it)');
    const shutdownMs = await Promise.all(workers.map(workerShutdownMs));
    const reported = workers.map((w) => {
      const last = w.logs.find((l) => l.msg === 'worker stopped');
      assert.ok(last, `${w.name} logged its final count`);
      assert.equal(last.notSaved, 0);
      assert.equal(last.unknown, 0);
      return last.units as number;
    });
    const total = reported.reduce((a, b) => a + b, 0);
    assert.ok(total > 50, `the workers did ${total} units`);
    assert.equal(Number(await redis.client.get('hashes')), total);
    t.diagnostic(`5 workers: ${total} units reported, ${await redis.client.get('hashes')} counted; stopped in ${shutdownMs.join(', ')} ms by their own clocks`);
  });
});
