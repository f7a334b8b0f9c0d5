// A slow rng (2 s a call) behind workers that wait at most 500 ms: the workers time out and
// back off, and rng drops the queued requests whose client has left, so its queue stays
// bounded instead of growing by every retry (one-at-a-time at 2 s each would never catch up).
// Counted by rng itself (rng_abandoned_total), not timed.
import assert from 'node:assert/strict';
import net from 'node:net';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { metricValue } from '../helpers/metrics.js';
import { freePort } from '../../src/lib/redis-server.js';
import { startService, waitFor } from '../helpers/processes.js';

const WORKERS = 8;
const RNG_DELAY_MS = 2000;
const CALL_TIMEOUT_MS = 500;
const RUN_MS = 8000;
/** Clients that queue, then all leave. */
const LEAVING = 6;

it('slow rng: workers time out after CALL_TIMEOUT_MS and back off; rng_queue_depth stays bounded; clients that left are skipped', { timeout: 120_000 }, async (t) => {
  const rng = await startService(t, 'rng', { RNG_DELAY_MS: String(RNG_DELAY_MS), LOG_LEVEL: 'warn' });
  const hasher = await startService(t, 'hasher', { HASHER_DELAY_MS: '0', LOG_LEVEL: 'warn' });
  const env = {
    WORK_DELAY_MS: '0',
    CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
    RNG_URL: rng.url,
    HASHER_URL: hasher.url,
    // No Redis: this test reads rng and the workers, not the counter (a worker keeps its count
    // while Redis is away).
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
  };
  const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => startService(t, 'worker', { ...env, INSTANCE_NAME: `slow-${i + 1}` })));
  const depth = () => metricValue(rng.url, 'rng_queue_depth');

  const depths: number[] = [];
  const started = performance.now();
  while (performance.now() - started < RUN_MS) {
    depths.push(await depth());
    await delay(100);
  }
  const errors = await Promise.all(workers.map((w) => metricValue(w.url, 'worker_errors_total', { dependency: 'rng' })));

  // Each attempt costs at least the timeout plus 100 ms of backoff; the backoff is capped at 1 s.
  const most = Math.ceil(RUN_MS / (CALL_TIMEOUT_MS + 100)) + 2;
  const least = Math.floor(RUN_MS / (CALL_TIMEOUT_MS + 1000 + 200));
  for (const [i, n] of errors.entries()) assert.ok(n >= least && n <= most, `slow-${i + 1}: ${n} failed rng calls in ${RUN_MS} ms (expected ${least}..${most})`);
  for (const w of workers) {
    const warning = w.logs.find((l) => l.level === 40 && l.dependency === 'rng');
    assert.match(String(warning?.msg), /^rng at http:\/\/127\.0\.0\.1:\d+\/32: timed out; retrying/);
    assert.equal(w.logs.filter((l) => l.level === 40 && l.dependency === 'rng').length, 1, 'one warning for the whole streak');
    assert.equal(w.child.exitCode, null);
  }

  // Live requests (one per worker) plus those abandoned since the lock last changed hands.
  const bound = WORKERS * (Math.ceil(RNG_DELAY_MS / (CALL_TIMEOUT_MS + 100)) + 1);
  const max = Math.max(...depths);
  assert.ok(max <= bound, `rng_queue_depth reached ${max} (bound ${bound})`);

  await Promise.all(workers.map((w) => w.stop()));
  await waitFor('rng_queue_depth to reach 0', async () => ((await depth()) === 0 ? true : undefined), (bound + 2) * RNG_DELAY_MS);

  // Clients that all leave at once: the one holding the lock ends its delay, and every other is
  // skipped at its turn instead of costing a delay for nobody. rng's own count says so.
  const abandoned = () => metricValue(rng.url, 'rng_abandoned_total');
  const before = await abandoned();
  const clients = Array.from({ length: LEAVING }, () => net.connect(rng.port, '127.0.0.1'));
  for (const client of clients) {
    client.on('error', () => {});
    client.write('GET /32 HTTP/1.1\r\nHost: rng\r\n\r\n');
  }
  await waitFor(`${LEAVING} requests queued`, async () => ((await depth()) === LEAVING ? true : undefined));
  for (const client of clients) client.destroy();
  await waitFor('rng_queue_depth to reach 0', async () => ((await depth()) === 0 ? true : undefined), (LEAVING + 2) * RNG_DELAY_MS);
  const skipped = (await abandoned()) - before;
  assert.equal(skipped, LEAVING - 1, `of ${LEAVING} requests whose clients left, ${skipped} skipped: ${LEAVING - 1 - skipped} served to nobody`);
  t.diagnostic(`${WORKERS} workers on an rng at ${RNG_DELAY_MS} ms, timeout ${CALL_TIMEOUT_MS} ms: ${errors.join(', ')} timeouts each in ${RUN_MS} ms; queue depth max ${max} (bound ${bound}); ${skipped} of ${LEAVING} left behind skipped`);
});
