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

/** Milliseconds until the worker's unit count moves again. */
async function resumesWithin(worker: ServiceProcess): Promise<number> {
  const before = await units(worker);
  const started = performance.now();
  await waitFor('the worker to resume', async () => ((await units(worker)) > before ? true : undefined), 5000);
  return performance.now() - started;
}

describe('worker faults (real redis-server, rng, hasher and worker processes)', () => {
  it('survives Redis, rng and hasher going away in turn, logs one line per streak, resumes within 2 s', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { rng, hasher, workerEnv } = await startUpstreams(t, fast, redis.url);
    const worker = await startService(t, 'worker', workerEnv);
    await waitFor('first flush', async () => ((await redis.client.get('hashes')) ? true : undefined));

    // Redis: the worker keeps working and keeps its count; the counter resumes once Redis is back.
    await redis.stop();
    const unitsBefore = await units(worker);
    await delay(2000);
    assert.ok((await units(worker)) > unitsBefore, 'the worker kept working while Redis was down');
    await redis.start();
    const redisBack = performance.now();
    await waitFor('the counter after Redis restarted', async () => ((await redis.client.get('hashes')) ? true : undefined), 5000);
    const redisResumeMs = performance.now() - redisBack;
    assert.ok(redisResumeMs < 2000, `counter resumed ${redisResumeMs} ms after Redis restarted`);
    assert.ok(Number(await redis.client.get('hashes')) >= (await units(worker)) - unitsBefore - 50, 'the units done while Redis was down were saved');

    for (const dependency of [rng, hasher]) {
      const errorsBefore = await metricValue(worker.url, 'worker_errors_total', { dependency: dependency.name });
      const { code } = await dependency.stop('SIGKILL');
      assert.equal(code, null);
      await delay(2000);
      const errors = (await metricValue(worker.url, 'worker_errors_total', { dependency: dependency.name })) - errorsBefore;
      // Backoff: a few attempts, not a busy loop (2 s at <= 1 s apart after 100, 200, 400 ms).
      assert.ok(errors >= 2 && errors <= 8, `${errors} failed attempts on ${dependency.name} in 2 s`);
      await dependency.restart();
      const resumeMs = await resumesWithin(worker);
      assert.ok(resumeMs < 2000, `resumed ${resumeMs} ms after ${dependency.name} came back`);
      t.diagnostic(`${dependency.name} down 2 s: ${errors} attempts, resumed ${Math.round(resumeMs)} ms after it was back`);
    }
    t.diagnostic(`redis down 2 s: counter resumed ${Math.round(redisResumeMs)} ms after it was back`);

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
  it('SIGTERM: every worker exits 0 within 1 s and the counter equals the units they report, 0 lost', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { workerEnv } = await startUpstreams(t, { RNG_DELAY_MS: '10', HASHER_DELAY_MS: '10', WORK_DELAY_MS: '10' }, redis.url);
    const workers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => startService(t, 'worker', { ...workerEnv, INSTANCE_NAME: `worker-${i + 1}` })),
    );
    await delay(2500);
    const exits = await Promise.all(workers.map((w) => w.stop('SIGTERM')));
    for (const [i, exit] of exits.entries()) {
      assert.equal(exit.code, 0);
      const ms = await workerShutdownMs(workers[i]!);
      assert.ok(ms < 1000, `worker-${i + 1} stopped ${ms} ms after SIGTERM, by its own clock`);
    }
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
    t.diagnostic(`5 workers: ${total} units reported, ${await redis.client.get('hashes')} counted; exits in ${exits.map((e) => Math.round(e.ms)).join(', ')} ms by the test's clock`);
  });
});
