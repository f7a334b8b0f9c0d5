// The whole app under load (4 workers, delays 0) while its dependencies die: Redis restarted
// (empty), rng and hasher killed with SIGKILL and restarted. Nothing crashes, the webui
// says 503 while Redis is away and recovers by itself, and the count resumes within 2 s.
// Times are the services' own (their log lines, the web UI's `now`), not the busy test's.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { metricValue } from '../helpers/metrics.js';
import { startService, waitFor, type ServiceProcess } from '../helpers/processes.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';

const WORKERS = 4;
const fast = { RNG_DELAY_MS: '0', HASHER_DELAY_MS: '0', WORK_DELAY_MS: '0' };
// rng and hasher log every request: at full speed, parsing those would load the test itself.
const quiet = { ...fast, LOG_LEVEL: 'warn' };

async function app(t: Parameters<typeof testRedis>[0], redis: TestRedis) {
  const rng = await startService(t, 'rng', quiet);
  const hasher = await startService(t, 'hasher', quiet);
  const webui = await startService(t, 'webui', { REDIS_URL: redis.url, LOG_LEVEL: 'warn' });
  const env = { ...fast, RNG_URL: rng.url, HASHER_URL: hasher.url, REDIS_URL: redis.url };
  const workers = await Promise.all(
    Array.from({ length: WORKERS }, (_, i) => startService(t, 'worker', { ...env, INSTANCE_NAME: `fault-${i + 1}` })),
  );
  await waitFor('the first flush', async () => (Number(await redis.client.get('hashes')) > 0 ? true : undefined));
  return { rng, hasher, webui, workers, all: [rng, hasher, webui, ...workers] };
}

const json = async (webui: ServiceProcess) => {
  const res = await fetch(`${webui.url}/json`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** When each worker logged that `dependency` is back (its own clock, ms since the epoch). */
const recoveredAt = (workers: ServiceProcess[], dependency: string, after: number) =>
  waitFor(`every worker to log that ${dependency} is back`, () => {
    const times = workers.map((w) => w.logs.find((l) => l.dependency === dependency && l.msg.startsWith(`${dependency} is back`) && Date.parse(l.time as string) >= after));
    return times.every(Boolean) ? times.map((l) => Date.parse(l!.time as string)) : undefined;
  });

const assertAlive = (procs: ServiceProcess[]) => {
  for (const p of procs) assert.equal(p.child.exitCode, null, `${p.name} is still running: ${p.stderr.join('\n')}`);
};

it('Redis restarted mid-run: no crash; webui 503 then 200 by itself; the count resumes within 2 s', { timeout: 60_000 }, async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const { webui, workers, all } = await app(t, redis);
  assert.equal((await json(webui)).status, 200);
  const unitsDone = async () => (await Promise.all(workers.map((w) => metricValue(w.url, 'worker_units_total')))).reduce((a, b) => a + b, 0);

  await redis.stop();
  const unitsAtStop = await unitsDone();
  const down = await waitFor('webui to answer 503', async () => {
    const answer = await json(webui);
    return answer.status === 503 ? answer : undefined;
  }, 5000);
  assert.match(String(down.body.error), /redis/i, 'a JSON error naming Redis');
  await delay(1500);
  assertAlive(all);
  assert.equal((await json(webui)).status, 503, 'still 503 while Redis is away, not a hang');

  const doneWhileAway = (await unitsDone()) - unitsAtStop;
  assert.ok(doneWhileAway > 0, 'the workers kept working while Redis was away');
  const stoppedAt = Date.now();
  await redis.start();
  // Taken once redis-server said it is ready: if anything, late, which shortens what we measure.
  const back = Date.now();
  // The restarted Redis is empty: the counter reappears when the workers flush again, with the
  // units they did while it was away (a worker may have flushed a few just before the stop).
  await waitFor('the counter after the restart', async () => (Number(await redis.client.get('hashes')) >= doneWhileAway - 10 * WORKERS ? true : undefined), 5000);
  const countsMs = Math.max(...(await recoveredAt(workers, 'redis', stoppedAt))) - back;
  const answer = await waitFor('webui to answer 200 again', async () => {
    const a = await json(webui);
    return a.status === 200 ? a : undefined;
  }, 5000);
  // The first 200 by the web UI's clock (/json's `now`); the polling adds at most 50 ms.
  const webuiMs = (answer.body.now as number) * 1000 - back;
  assert.ok(countsMs <= 2000, `counts resumed ${Math.round(countsMs)} ms after Redis was back`);
  assert.ok(webuiMs <= 2000, `webui answered 200 ${Math.round(webuiMs)} ms after Redis was back`);
  assert.equal(typeof answer.body.hashes, 'string');
  // The units done while Redis was away were kept and written at the first flush after it.
  const first = Number(await redis.client.get('hashes'));
  await waitFor('the counter to keep climbing', async () => (Number(await redis.client.get('hashes')) > first ? true : undefined));
  assertAlive(all);
  t.diagnostic(`Redis back: counter after ${Math.round(countsMs)} ms (${first} units; ${doneWhileAway} done while it was away), webui 200 after ${Math.round(webuiMs)} ms`);
});

it('rng and hasher killed (SIGKILL) and restarted under load: every worker resumes within 2 s, webui unaffected', { timeout: 60_000 }, async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const { rng, hasher, webui, workers, all } = await app(t, redis);
  const unitsOf = (w: ServiceProcess) => metricValue(w.url, 'worker_units_total');

  for (const victim of [rng, hasher]) {
    assert.equal((await victim.stop('SIGKILL')).code, null, `${victim.name} was killed`);
    await delay(1000);
    assertAlive(workers);
    assert.equal((await json(webui)).status, 200, `webui answers while ${victim.name} is down`);
    const before = await Promise.all(workers.map(unitsOf));
    const counterBefore = Number(await redis.client.get('hashes'));
    const killedAt = Date.now();
    await victim.restart();
    // Taken once it answered /healthz: if anything, late, which shortens what we measure.
    const back = Date.now();
    await waitFor(`every worker to resume after ${victim.name}`, async () => {
      const now = await Promise.all(workers.map(unitsOf));
      return now.every((units, i) => units > before[i]!) ? true : undefined;
    }, 5000);
    const resumedMs = Math.max(...(await recoveredAt(workers, victim.name, killedAt))) - back;
    await waitFor('the counter to climb', async () => (Number(await redis.client.get('hashes')) > counterBefore ? true : undefined), 3000);
    assert.ok(resumedMs <= 2000, `all workers resumed ${Math.round(resumedMs)} ms after ${victim.name} was back`);
    const errors = await Promise.all(workers.map((w) => metricValue(w.url, 'worker_errors_total', { dependency: victim.name })));
    assert.ok(errors.every((e) => e >= 1), `each worker saw ${victim.name} fail: ${errors.join(', ')}`);
    t.diagnostic(`${victim.name} killed 1 s: ${WORKERS} workers resumed ${Math.round(resumedMs)} ms after it was back`);
  }
  assertAlive(all);
});
