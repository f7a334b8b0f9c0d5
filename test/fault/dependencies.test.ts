// The whole app under load (4 workers, delays 0) while its dependencies die: Redis restarted
// (empty), rng and hasher killed with SIGKILL and restarted. Nothing crashes, the webui
// says 503 while Redis is away and recovers by itself, and the count resumes at the workers'
// next tries. Tries are counted by the services (their metrics), never timed by the busy test.
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

/** Each worker's failed tries on `dependency` so far, by its own count. */
const failuresOn = (workers: ServiceProcess[], dependency: string) =>
  Promise.all(workers.map((w) => metricValue(w.url, 'worker_errors_total', { dependency })));

/** Waits until each worker logged that `dependency` is back (after `after`, its own clock). */
const recovered = (workers: ServiceProcess[], dependency: string, after: number) =>
  waitFor(`every worker to log that ${dependency} is back`, () =>
    workers.every((w) => w.logs.some((l) => l.dependency === dependency && l.msg.startsWith(`${dependency} is back`) && Date.parse(l.time as string) >= after)) || undefined,
  );

const assertAlive = (procs: ServiceProcess[]) => {
  for (const p of procs) assert.equal(p.child.exitCode, null, `${p.name} is still running: ${p.stderr.join('\n')}`);
};

it('Redis restarted mid-run: no crash; webui 503 then 200 by itself; the count resumes at the next flushes', { timeout: 60_000 }, async (t) => {
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
  // Read once redis-server said it is ready: if anything, late, which leaves out tries.
  const failuresAtBack = await failuresOn(workers, 'redis');
  // The restarted Redis is empty: the counter reappears when the workers flush again, with the
  // units they did while it was away (a worker may have flushed a few just before the stop).
  await waitFor('the counter after the restart', async () => (Number(await redis.client.get('hashes')) >= doneWhileAway - 10 * WORKERS ? true : undefined), 5000);
  await recovered(workers, 'redis', stoppedAt);
  // At most a flush in the client's reconnect gap (500 ms at most, a flush a second) and one in
  // flight: each worker resumed at its next flushes, however slowly the machine ran them.
  const failuresAfter = (await failuresOn(workers, 'redis')).map((n, i) => n - failuresAtBack[i]!);
  assert.ok(failuresAfter.every((n) => n <= 2), `failed flushes after Redis was back: ${failuresAfter.join(', ')}`);
  // The units done while Redis was away were kept and written at the first flush after it.
  const first = Number(await redis.client.get('hashes'));
  await waitFor('the counter to keep climbing', async () => (Number(await redis.client.get('hashes')) > first ? true : undefined));
  // By then the web UI has had a second of flushes to reconnect in, every 500 ms at most: it
  // answers on its own, the first time it is asked.
  const answer = await json(webui);
  assert.equal(answer.status, 200, `webui after two flushes by the workers: ${JSON.stringify(answer.body)}`);
  assert.equal(typeof answer.body.hashes, 'string');
  assertAlive(all);
  t.diagnostic(`Redis back: failed flushes after it ${failuresAfter.join(', ')} (${first} units at the first; ${doneWhileAway} done while it was away)`);
});

it('rng and hasher killed (SIGKILL) and restarted under load: every worker resumes at its next try, webui unaffected', { timeout: 60_000 }, async (t) => {
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
    // Read once it answered /healthz: if anything, late, which leaves out tries.
    const failuresAtBack = await failuresOn(workers, victim.name);
    await waitFor(`every worker to resume after ${victim.name}`, async () => {
      const now = await Promise.all(workers.map(unitsOf));
      return now.every((units, i) => units > before[i]!) ? true : undefined;
    }, 5000);
    await recovered(workers, victim.name, killedAt);
    await waitFor('the counter to climb', async () => (Number(await redis.client.get('hashes')) > counterBefore ? true : undefined), 3000);
    // Resumed at the next try (one may be in flight): within a capped backoff of the return.
    const errors = await failuresOn(workers, victim.name);
    const failuresAfter = errors.map((n, i) => n - failuresAtBack[i]!);
    assert.ok(failuresAfter.every((n) => n <= 1), `failed tries after ${victim.name} was back: ${failuresAfter.join(', ')}`);
    assert.ok(errors.every((e) => e >= 1), `each worker saw ${victim.name} fail: ${errors.join(', ')}`);
    t.diagnostic(`${victim.name} killed 1 s: ${WORKERS} workers resumed, failed tries after it was back ${failuresAfter.join(', ')}`);
  }
  assertAlive(all);
});
