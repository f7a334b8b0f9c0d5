// IPv6-only and dual-stack networks, on the real processes: every service listens on both
// families by default; a worker reaches rng, hasher and Redis over IPv6 only, by literal
// addresses and by a name with AAAA records only; a name with both families gets calls over both.
// Names are given their addresses by test/helpers/hosts.mjs, preloaded in the worker.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startRedisServer } from '../src/lib/redis-server.js';
import { metricValue } from './helpers/metrics.js';
import { startService, waitFor, withHosts, type ServiceProcess } from './helpers/processes.js';
import { canRunRedisServer } from './helpers/redis.js';

/**
 * The workshop's delays: one unit is a sleep, an rng call and a hasher call, 3.3 units/s. Long
 * enough that a loaded machine's few ms per call stay well within the tolerance.
 */
const D = 100;
const delays = { RNG_DELAY_MS: String(D), HASHER_DELAY_MS: String(D), WORK_DELAY_MS: String(D) };

async function redisOn(t: TestContext, bind: string) {
  if (!canRunRedisServer(t)) return undefined;
  const redis = await startRedisServer(undefined, [], bind);
  if (!redis) throw new Error(`redis-server did not start on ${bind}`);
  t.after(() => redis.stop());
  return redis;
}

/** Units per second of one worker, by its own /metrics, after a warm-up. */
async function unitsPerSecond(worker: ServiceProcess, seconds = 6) {
  await delay(1000);
  const units = () => metricValue(worker.url, 'worker_units_total');
  const [u0, t0] = [await units(), performance.now()];
  await delay(seconds * 1000);
  return ((await units()) - u0) / ((performance.now() - t0) / 1000);
}

const calls = (worker: ServiceProcess, dependency: string, family: number) =>
  metricValue(worker.url, 'worker_calls_total', { dependency, family: String(family) });

describe('IPv6 and dual stack', () => {
  it('every service started with the default HOST answers on [::1] and on 127.0.0.1', async (t) => {
    const redis = await redisOn(t, '127.0.0.1');
    if (!redis) return;
    const env = { HOST: '', REDIS_URL: redis.url, RNG_URL: 'http://127.0.0.1:1', HASHER_URL: 'http://127.0.0.1:1' };
    for (const service of ['rng', 'hasher', 'webui', 'worker'] as const) {
      const proc = await startService(t, service, env);
      for (const host of ['[::1]', '127.0.0.1']) {
        const res = await fetch(`http://${host}:${proc.port}/healthz`);
        assert.equal(res.status, 200, `${service} on ${host}`);
      }
      await waitFor(`${service}'s "listening on" line`, () => (proc.logs.some((l) => l.msg === `listening on http://[::]:${proc.port}`) ? true : undefined), 3000);
    }
  });

  // The IPv4 case is the baseline the two IPv6 ones are compared with.
  for (const [only, reachedBy, host] of [
    ['::1', 'IPv6 literals', '[::1]'],
    ['::1', 'a name with AAAA records only', 'v6only.test'],
    ['127.0.0.1', 'IPv4 literals', '127.0.0.1'],
  ] as const) {
    it(`a worker reaches rng, hasher and Redis listening on ${only} only, by ${reachedBy}, at the expected rate`, async (t) => {
      const redis = await redisOn(t, only);
      if (!redis) return;
      const rng = await startService(t, 'rng', delays, { host: only });
      const hasher = await startService(t, 'hasher', delays, { host: only });
      const family = only === '::1' ? 6 : 4;
      const worker = await startService(t, 'worker', {
        ...delays,
        ...withHosts({ 'v6only.test': ['::1'] }),
        HOST: only,
        RNG_URL: `http://${host}:${rng.port}`,
        HASHER_URL: `http://${host}:${hasher.port}`,
        REDIS_URL: `redis://${host}:${redis.port}`,
        FLUSH_INTERVAL_MS: '200',
      }, { host: only });
      const rate = await unitsPerSecond(worker);
      const expected = 1000 / (3 * D);
      t.diagnostic(`over IPv${family} only (${reachedBy}): ${rate.toFixed(2)} units/s, expected ${expected.toFixed(2)}`);
      assert.ok(Math.abs(rate - expected) <= expected * 0.2, `${rate.toFixed(2)} units/s, expected ${expected.toFixed(2)} ±20 %`);
      assert.equal(await metricValue(worker.url, 'worker_errors_total', { dependency: 'redis' }), 0);
      assert.equal(await calls(worker, 'rng', family === 6 ? 4 : 6), 0);
      assert.ok((await calls(worker, 'rng', family)) > 0);
      assert.ok(worker.logs.every((l) => l.level < 50), worker.logs.filter((l) => l.level >= 50).map((l) => l.msg).join(' | '));
    });
  }

  it('a name resolving to both families: calls go to every address, about evenly, none failing', async (t) => {
    const redis = await redisOn(t, '127.0.0.1');
    if (!redis) return;
    // Default HOST (::): each service answers on ::1 and on 127.0.0.1.
    const rng = await startService(t, 'rng', { ...delays, HOST: '' });
    const hasher = await startService(t, 'hasher', { ...delays, HOST: '' });
    const worker = await startService(t, 'worker', {
      ...delays,
      ...withHosts({ 'dual.test': ['::1', '127.0.0.1'] }),
      RNG_URL: `http://dual.test:${rng.port}`,
      HASHER_URL: `http://dual.test:${hasher.port}`,
      REDIS_URL: redis.url,
    });
    const rate = await unitsPerSecond(worker);
    t.diagnostic(`dual stack: ${rate.toFixed(2)} units/s`);
    for (const dependency of ['rng', 'hasher']) {
      const [v4, v6] = [await calls(worker, dependency, 4), await calls(worker, dependency, 6)];
      t.diagnostic(`${dependency}: ${v4} calls over IPv4, ${v6} over IPv6`);
      assert.ok(v4 > 3 && v6 > 3 && Math.abs(v4 - v6) <= 1, `${dependency}: ${v4} over IPv4, ${v6} over IPv6`);
      assert.equal(await metricValue(worker.url, 'worker_errors_total', { dependency }), 0);
    }
  });
});
