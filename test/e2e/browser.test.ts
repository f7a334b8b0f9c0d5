// The dashboard in real Chromium against real processes (rng, hasher, workers and webui
// bundles, a real redis-server), through every state and transition the issue lists: a
// counter-only worker beside ours, 1 → 10 workers, 1 → 3 rng, 10 → 1 workers, Redis
// stopped and restarted, the web UI stopped and restarted, no worker. In each: what the page
// says, its figures against the rate of the Redis counter (sampled here), a screenshot in
// test-results/, axe-core, console errors; and the bytes of a page load and of the stream.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { CHROMIUM, launchChromium, openDashboard, SCREENSHOTS, type DashboardPage } from '../helpers/browser.js';
import { metricValue } from '../helpers/metrics.js';
import { startService, waitFor, waitHealthy, type ServiceProcess } from '../helpers/processes.js';
import { reportOf, testRedis, type TestRedis } from '../helpers/redis.js';

const MAX_LOAD_BYTES = 30 * 1024;
const MAX_STREAM_BYTES_PER_S = 1024;
const quiet = { LOG_LEVEL: 'warn' };

let browser: Browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  browser = await launchChromium();
  await mkdir(SCREENSHOTS, { recursive: true });
});
after(() => browser?.close());

/** The Redis counter sampled every 250 ms, and its rate between two moments. */
function watchCounter(redis: TestRedis) {
  const samples: { at: number; hashes: number }[] = [];
  const timer = setInterval(() => {
    redis.client.get('hashes').then((h) => samples.push({ at: performance.now(), hashes: Number(h ?? 0) }), () => {});
  }, 250);
  return {
    stop: () => clearInterval(timer),
    /** Hashes/s over the last `ms` (the counter must not have been reset meanwhile). */
    rate(ms: number) {
      const last = samples.at(-1)!;
      const first = samples.find((s) => s.at >= last.at - ms)!;
      return ((last.hashes - first.hashes) * 1000) / (last.at - first.at);
    },
  };
}

/** Mean of the speed the page shows, read every 500 ms for `ms`, and the counter's rate meanwhile. */
async function speedAgainstCounter(dashboard: DashboardPage, counter: ReturnType<typeof watchCounter>, ms: number) {
  const readings: number[] = [];
  const started = performance.now();
  while (performance.now() - started < ms) {
    await delay(500);
    const speed = await dashboard.speed();
    if (speed !== null) readings.push(speed);
  }
  const shown = readings.reduce((a, b) => a + b, 0) / readings.length;
  const truth = counter.rate(ms);
  assert.ok(readings.length > 0 && Math.abs(shown / truth - 1) <= 0.15, `page ${shown.toFixed(2)} vs counter ${truth.toFixed(2)} hashes/s`);
  return { shown, truth };
}

const statusOf = (d: DashboardPage) => d.text('#status');
const waitText = (d: DashboardPage, selector: string, pattern: RegExp, timeoutMs = 15_000) =>
  waitFor(`${selector} to match ${pattern}`, async () => ((await d.text(selector)).match(pattern) ? true : undefined), timeoutMs);

it('the dashboard in every state and transition', { timeout: 300_000 }, async (t) => {
  const redis = await testRedis(t);
  if (!redis) return;
  const counter = watchCounter(redis);
  t.after(counter.stop);
  const base = { ...quiet, REDIS_URL: redis.url };
  const rngs = [await startService(t, 'rng', { ...quiet, INSTANCE_NAME: 'rng-1' })];
  const hasher = await startService(t, 'hasher', { ...quiet, INSTANCE_NAME: 'hasher-1' });
  const webui = await startService(t, 'webui', { ...base, INSTANCE_NAME: 'webui-1' });
  const workers: ServiceProcess[] = [];
  const instanceNames = new Map<ServiceProcess, string>();
  const addWorkers = async (count: number) => {
    const env = { ...base, RNG_URL: rngs.map((r) => r.url).join(','), HASHER_URL: hasher.url };
    const first = workers.length + 1;
    const started = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const name = `worker-${first + i}`;
        const worker = await startService(t, 'worker', { ...env, INSTANCE_NAME: name }, { waitHealthy: false });
        instanceNames.set(worker, name);
        return worker;
      }),
    );
    // Ten node processes starting at once on a loaded 2-core machine take their time.
    await Promise.all(started.map((w) => waitHealthy(w, 60_000)));
    workers.push(...started);
  };
  const stopWorkers = async (count: number) => {
    const stopped = workers.splice(workers.length - count, count);
    await Promise.all(stopped.map((w) => w.stop()));
  };
  // Like the original worker: INCRBY hashes once a second, HSET wallet, no report.
  let counterOnly: NodeJS.Timeout | undefined = setInterval(() => {
    void redis.client.incrBy('hashes', 3).catch(() => {});
  }, 1000);
  t.after(() => clearInterval(counterOnly));
  const statuses = new Set<string>();
  const record = async (d: DashboardPage) => statuses.add(await statusOf(d));

  await addWorkers(1);
  const projector = await openDashboard(browser, webui.url);
  t.after(() => projector.page.close());
  const checkAxe = async (d: DashboardPage, state: string) => assert.deepEqual(await d.axe(), [], `axe in state ${state}`);

  await t.test('a counter-only worker beside ours: its work shows as such and adds up', async () => {
    await waitText(projector, '#speed-detail', /hashes\/s from workers that do not report/, 20_000);
    await delay(6000);
    const { shown, truth } = await speedAgainstCounter(projector, counter, 10_000);
    const detail = await projector.text('#speed-detail');
    const others = Number(/([\d.]+) hashes\/s from workers that do not report/.exec(detail)![1]);
    t.diagnostic(`counter-only beside 1 worker: page ${shown.toFixed(2)}, counter ${truth.toFixed(2)}; "${detail}"; status "${await statusOf(projector)}"`);
    assert.ok(Math.abs(others / 3 - 1) <= 0.15, `the counter-only worker does 3.0 hashes/s: "${detail}"`);
    assert.match(detail, /^[\d.]+ from 1 worker \+ [\d.]+ hashes\/s from workers that do not report$/);

    const files = [...projector.loaded.keys()].sort();
    const bytes = [...projector.loaded.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`page load: ${bytes} bytes transferred (${files.map((f) => `${f} ${projector.loaded.get(f)} ${projector.encodings.get(f) ?? 'identity'}`).join(', ')})`);
    assert.deepEqual(files, ['/app.css', '/app.js', '/favicon.svg', '/index.html'], 'only our own files, no CDN');
    assert.equal(projector.encodings.get('/app.js'), 'br');
    assert.ok(bytes <= MAX_LOAD_BYTES, `page load ${bytes} bytes`);
    await checkAxe(projector, 'counter-only');
    await projector.screenshot('1-counter-only-beside-ours');

    const phone = await openDashboard(browser, webui.url, { width: 390, height: 844 });
    t.after(() => phone.page.close());
    await waitText(phone, '#speed-detail', /do not report/);
    // A string: tsx would wrap named functions in a helper the page does not have.
    const layout = (await phone.page.evaluate(`(() => {
      const box = (s) => document.querySelector(s).getBoundingClientRect();
      const boxes = ['.speed .value', '.figure:nth-child(2) .value', '.figure:nth-child(3) .value', '#speed-detail', '#status'].map(box);
      const overlaps = boxes.some((a, i) => boxes.slice(i + 1).some((b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom));
      const rows = [...document.querySelectorAll('#instances tr')].map((r) => r.textContent);
      return { overlaps, width: document.documentElement.scrollWidth, status: box('#status').bottom, table: box('#instances').top, rows, unitTop: box('#speed-unit').top, speedBottom: box('#speed').bottom };
    })()`)) as { overlaps: boolean; width: number; status: number; table: number; rows: string[]; unitTop: number; speedBottom: number };
    assert.equal(layout.overlaps, false, 'figures and status do not collide on a phone');
    assert.ok(layout.width <= 390, `no sideways scrolling: ${layout.width} px`);
    assert.ok(layout.status <= 844 && layout.table <= 844, `status and instances on the first screen: ${JSON.stringify(layout)}`);
    assert.ok(layout.rows.findIndex((r) => r.startsWith('rng')) < layout.rows.findIndex((r) => r.startsWith('Workers')), 'rng before workers');
    assert.ok(layout.unitTop < layout.speedBottom, 'the unit stays on the figure\'s line');
    await checkAxe(phone, 'phone');
    await phone.screenshot('1-counter-only-phone');
    assert.deepEqual(phone.errors, []);
  });

  await t.test('1 → 10 workers: collapsed into one line, the bottleneck sentence steady, the stream light', async () => {
    const streamed = { at: performance.now(), bytes: projector.streamBytes() };
    await addWorkers(9);
    await waitText(projector, '#instances', /10 workers, [\d.]+ hashes\/s each; slowest worker-\d+ [\d.]+/);
    await waitText(projector, '#status', /^rng \(1 instance\) is saturated: each call waits \d+ ms in its queue; add rng instances$/, 20_000);
    for (let i = 0; i < 12; i++) {
      assert.match(await statusOf(projector), /^rng \(1 instance\) is saturated/, 'the sentence does not flicker');
      await delay(500);
    }
    await delay(4000);
    const { shown, truth } = await speedAgainstCounter(projector, counter, 10_000);
    const streamRate = ((projector.streamBytes() - streamed.bytes) * 1000) / (performance.now() - streamed.at);
    t.diagnostic(`10 workers, 1 rng: page ${shown.toFixed(2)}, counter ${truth.toFixed(2)}; "${await statusOf(projector)}"; "${await projector.text('#instances')}"`);
    t.diagnostic(`event stream with 10 workers: ${streamRate.toFixed(0)} bytes/s`);
    assert.ok(streamRate <= MAX_STREAM_BYTES_PER_S, `${streamRate.toFixed(0)} bytes/s of stream`);
    assert.equal(await projector.page.locator('#instances td', { hasText: /^worker-\d+$/ }).count(), 0, 'no row per worker beyond 3');
    await record(projector);
    await checkAxe(projector, '10 workers');
    await projector.screenshot('2-ten-workers-one-rng');
  });

  await t.test('1 → 3 rng: the instances show, the speed follows the counter', async () => {
    rngs.push(...(await Promise.all([2, 3].map((n) => startService(t, 'rng', { ...quiet, INSTANCE_NAME: `rng-${n}` })))));
    // The workers learn of them as in a rolling update: each one replaced.
    await stopWorkers(10);
    await addWorkers(10);
    await waitText(projector, '#instances', /rng \(3\)/);
    await delay(8000);
    const { shown, truth } = await speedAgainstCounter(projector, counter, 10_000);
    t.diagnostic(`10 workers, 3 rng: page ${shown.toFixed(2)}, counter ${truth.toFixed(2)}; "${await statusOf(projector)}"`);
    for (const name of ['rng-1', 'rng-2', 'rng-3']) assert.match(await projector.text('#instances'), new RegExp(name));
    await record(projector);
    await projector.screenshot('3-ten-workers-three-rng');
  });

  await t.test('10 → 1 workers: the stopped ones leave with their last report, no overshoot', async () => {
    const names = workers.slice(-9).map((w) => instanceNames.get(w)!);
    const stoppedAt = performance.now();
    await stopWorkers(9);
    // Each wrote a last report, the page's cue to drop it at the next sample: that it does so
    // at once, not once the worker is stale, is the sampler's test (test/webui/dashboard.test.ts).
    const last = await Promise.all(names.map((name) => reportOf(redis.client, name)));
    assert.deepEqual(last.map((r) => r?.final), names.map(() => true), 'every stopped worker wrote a last report');
    await waitText(projector, '#instances', /^(?!.*\d+ workers,).*Workers \(1\)/s);
    const leftAfter = performance.now() - stoppedAt;
    const readings: number[] = [];
    for (let i = 0; i < 20; i++) {
      await delay(500);
      readings.push((await projector.speed()) ?? 0);
      await record(projector);
    }
    const truth = counter.rate(8000);
    t.diagnostic(`10 → 1: "1 worker" after ${leftAfter.toFixed(0)} ms; readings ${readings.join(' ')}; counter ${truth.toFixed(2)}`);
    for (const r of readings.slice(4)) assert.ok(r <= truth * 1.15, `reading ${r} above what the counter supports (${truth.toFixed(2)})`);
    await projector.screenshot('4-back-to-one-worker');
  });

  await t.test('Redis stopped and restarted: stale figures, a gap, the counts saved', async (st) => {
    await redis.stop();
    // Back for the next tests if this one fails while Redis is down.
    st.after(() => redis.start());
    await waitText(projector, '#status', /^Redis is unreachable since \d\d:\d\d:\d\d\. Workers keep their counts and save them when it is back\. Figures are from \d\d:\d\d:\d\d\.$/);
    assert.equal(await projector.text('#connection'), 'Stale: Redis unreachable');
    assert.equal(await projector.page.evaluate(() => document.body.classList.contains('stale')), true);
    // Read once the page says stale: a sample taken as Redis was stopping may still have landed.
    const last = await projector.text('#speed');
    await delay(3000);
    assert.equal(await projector.text('#speed'), last, 'the last figure stays while Redis is unreachable');
    const pending = await metricValue(workers[0]!.url, 'worker_pending_units');
    t.diagnostic(`Redis down: "${await statusOf(projector)}"; the worker keeps ${pending} units`);
    assert.ok(pending > 0, 'the worker keeps its count');
    await checkAxe(projector, 'Redis down');
    await projector.screenshot('5-redis-down');
    await redis.start();
    await waitText(projector, '#connection', /^Live$/);
    const saved = await waitFor('the kept units saved', async () => {
      const hashes = Number(await redis.client.get('hashes'));
      return hashes >= pending ? hashes : undefined;
    });
    await waitText(projector, '#status', /^Workers spend/, 20_000);
    // Redis came back empty: the page says the counter went down, under the total.
    await waitText(projector, '#hashes-detail', /^The counter went down from [\d,]+ to [\d,]+ at \d\d:\d\d:\d\d: Redis lost its data, or something else wrote it\.$/);
    t.diagnostic(`Redis back empty: "${await projector.text('#hashes-detail')}"`);
    // The counter's rate over 10 s (its steps are whole flushes), all after the restart.
    await delay(3000);
    const { shown, truth } = await speedAgainstCounter(projector, counter, 10_000);
    t.diagnostic(`Redis back: counter ${saved} (≥ ${pending} kept), page ${shown.toFixed(2)} vs ${truth.toFixed(2)}`);
    const history = await projector.page.evaluate(async () => {
      const text = await new Promise<string>((resolve) => {
        const source = new EventSource('events');
        source.addEventListener('history', (e) => { source.close(); resolve((e as MessageEvent<string>).data); });
      });
      return (JSON.parse(text) as [number[], (number | null)[]])[1];
    });
    assert.ok(history.some((s) => s === null), 'the chart has a gap for the outage');
    assert.ok(!history.slice(-3).includes(0), 'and no drop to 0');
  });

  await t.test('web UI stopped and restarted: greyed and reconnecting, then right from the first figures', async () => {
    const errorsBefore = projector.errors.length;
    await webui.stop();
    await waitText(projector, '#status', /^The web UI is unreachable; reconnecting… Figures are from \d\d:\d\d:\d\d\.$/, 10_000);
    assert.equal(await projector.page.evaluate(() => document.body.classList.contains('offline')), true);
    await checkAxe(projector, 'web UI down');
    await projector.screenshot('6-webui-down');
    await webui.restart();
    await waitText(projector, '#connection', /^Live$/);
    const readings: string[] = [];
    while (readings.length < 16) {
      await delay(500);
      readings.push(await projector.text('#speed'));
    }
    const truth = counter.rate(10_000);
    t.diagnostic(`web UI back: readings ${readings.join(' ')}; counter ${truth.toFixed(2)}`);
    for (const r of readings.filter((x) => x !== '…')) assert.ok(Math.abs(Number(r) / truth - 1) <= 0.15, `reading ${r} vs counter ${truth.toFixed(2)}`);
    assert.ok(readings.some((x) => x !== '…'), 'a figure within 8 s');
    // The browser logs each refused reconnection: expected here, and only here.
    const others = projector.errors.splice(errorsBefore).filter((e) => !/^error: Failed to load resource: net::ERR_CONNECTION_REFUSED$/.test(e));
    projector.errors.push(...others);
  });

  await t.test('no worker running: said as such', async () => {
    clearInterval(counterOnly);
    counterOnly = undefined;
    await stopWorkers(1);
    await waitText(projector, '#status', /^No worker is running/, 20_000);
    assert.equal(await projector.speed(), 0);
    await record(projector);
    await checkAxe(projector, 'no worker');
    await projector.screenshot('7-no-worker');
  });

  t.diagnostic(`sentences seen: ${[...statuses].map((s) => `"${s}"`).join('; ')}`);
  for (const s of statuses) assert.doesNotMatch(s, /waits 0 ms/);
  assert.deepEqual(projector.errors, []);
});
