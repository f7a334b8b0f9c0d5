// The workshop's model, with its delays of D ms: one unit is a sleep, an rng call and a
// hasher call, so 1 worker does 1/(3D) hashes/s; one rng serves 1/D requests/s, the plateau
// of N workers; 2 rng instances double it. Measured on the real services with a real Redis,
// by the web UI's counter and clock (its /json), as the workshop reads it.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { startLocal } from '../src/cli/local.js';
import { measureRate, readCounters } from '../src/cli/swarm.js';
import { freePort } from '../src/lib/redis-server.js';
import { waitFor } from './helpers/processes.js';
import { testRedis } from './helpers/redis.js';

/**
 * The workshop's own delay. A loaded machine adds a few ms to every call whatever the delay:
 * shorter delays made that overhead outgrow the tolerance beside other tests.
 */
const D = 100;

async function rateOf(t: TestContext, workers: number, rng: number): Promise<number | undefined> {
  const redis = await testRedis(t);
  if (!redis) return undefined;
  const [webuiPort, rngPort, hasherPort] = [await freePort(), await freePort(), await freePort()];
  const app = await startLocal({
    workers,
    rng,
    host: '127.0.0.1',
    webuiPort,
    rngPort,
    hasherPort,
    env: {
      REDIS_URL: redis.url,
      RNG_DELAY_MS: String(D),
      HASHER_DELAY_MS: String(D),
      WORK_DELAY_MS: String(D),
      FLUSH_INTERVAL_MS: '200',
      LOG_LEVEL: 'silent',
    },
    say: () => {},
  });
  t.after(() => app.stop());
  const webui = `http://127.0.0.1:${webuiPort}`;
  // The first flush, then a second to warm up (connections, JIT): then every worker is in its rhythm.
  await waitFor('the first flush', async () => ((await readCounters(webui)).hashes > 0 ? true : undefined));
  await measureRate(webui, 1);
  const { rate } = await measureRate(webui, 5);
  t.diagnostic(`${workers} workers, ${rng} rng, delays ${D} ms: ${rate.toFixed(1)} hashes/s`);
  return rate;
}

const within = (actual: number, expected: number, tolerance = 0.2) =>
  assert.ok(Math.abs(actual - expected) <= expected * tolerance, `${actual.toFixed(1)} hashes/s, expected ${expected.toFixed(1)} ±${tolerance * 100} %`);

describe(`fidelity to the workshop's rates (delays ${D} ms)`, () => {
  it('1 worker ≈ 1/(3·delay)', async (t) => {
    const rate = await rateOf(t, 1, 1);
    if (rate !== undefined) within(rate, 1000 / (3 * D));
  });
  it('10 workers on 1 rng plateau at 1/delay', async (t) => {
    const rate = await rateOf(t, 10, 1);
    if (rate !== undefined) within(rate, 1000 / D);
  });
  it('10 workers on 2 rng instances double the plateau', async (t) => {
    const rate = await rateOf(t, 10, 2);
    if (rate !== undefined) within(rate, 2000 / D);
  });
});
