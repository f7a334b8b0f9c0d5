// The dashboard in real Chromium against the whole app running locally (startLocal: real
// rng, hasher, workers and webui, a real redis-server): the speed it shows against the rate
// measured in Redis, the chart, the instance table, the bottleneck sentence, no console
// errors, the page weight. Screenshots go to test-results/.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startLocal, type LocalApp } from '../../src/cli/local.js';
import { freePort } from '../../src/lib/redis-server.js';
import { waitFor } from '../helpers/processes.js';
import { repositoryRoot as root } from '../../src/lib/paths.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';

const CHROMIUM = '/usr/bin/chromium';
const RESULTS = path.join(root, 'test-results');
const MAX_PAGE_BYTES = 100 * 1024;

let browser: Browser;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  await mkdir(RESULTS, { recursive: true });
});
after(() => browser?.close());

/**
 * The app, stopped at the end of the test: each test calls stop() itself, because the
 * after-hooks run in order and Redis (registered first) would go before the workers flush.
 */
async function startApp(t: TestContext, redis: TestRedis, workers: number, rng: number): Promise<LocalApp> {
  const app = await startLocal({
    workers,
    rng,
    host: '127.0.0.1',
    webuiPort: await freePort(),
    rngPort: await freePort(),
    hasherPort: await freePort(),
    env: { ...process.env, REDIS_URL: redis.url, LOG_LEVEL: 'warn' },
    say: () => {},
  });
  let stopping: ReturnType<LocalApp['stop']> | undefined;
  const stop = () => (stopping ??= app.stop());
  t.after(stop);
  return { ...app, stop };
}

interface OpenPage {
  page: Page;
  errors: string[];
  /** Bytes of every response the page loaded, by URL (the event stream excepted). */
  loaded: Map<string, number>;
}

async function openDashboard(t: TestContext, app: LocalApp, viewport = { width: 1280, height: 900 }): Promise<OpenPage> {
  const page = await browser.newPage({ viewport });
  t.after(() => page.close());
  const errors: string[] = [];
  const loaded = new Map<string, number>();
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('response', async (response) => {
    if (response.url().endsWith('/events') || response.status() !== 200) return;
    loaded.set(response.url(), (await response.body()).length);
  });
  await page.goto(`${app.url}/`);
  return { page, errors, loaded };
}

/** Redis, the app with this many workers and rng instances, and the dashboard open on it. */
async function dashboardOf(t: TestContext, workers: number, rng: number, viewport?: { width: number; height: number }) {
  const redis = await testRedis(t);
  if (!redis) return undefined;
  const app = await startApp(t, redis, workers, rng);
  return { redis, app, ...(await openDashboard(t, app, viewport)) };
}

/** Saves the screenshot, checks the console stayed clean, stops the app. */
async function finish(run: { page: Page; errors: string[]; app: LocalApp }, screenshot: string) {
  await run.page.screenshot({ path: path.join(RESULTS, screenshot), fullPage: true });
  assert.deepEqual(run.errors, []);
  await run.app.stop();
}

const speedShown = async (page: Page) => Number((await page.locator('#speed').textContent())!.replace(/,/g, ''));

/** Mean speed the page shows over `ms` (read every second), and the rate Redis counted meanwhile. */
async function speedVersusRedis(page: Page, redis: TestRedis, ms: number) {
  const counter = async () => ({ at: performance.now(), hashes: Number(await redis.client.get('hashes')) });
  const first = await counter();
  const shown: number[] = [];
  while (performance.now() - first.at < ms) {
    await delay(1000);
    shown.push(await speedShown(page));
  }
  const last = await counter();
  return {
    shown,
    meanShown: shown.reduce((a, b) => a + b, 0) / shown.length,
    redis: ((last.hashes - first.hashes) * 1000) / (last.at - first.at),
  };
}

/** Pixels of the speed line's colour drawn on the chart's canvas, and over how many columns. */
const chartLine = (page: Page) =>
  page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#chart canvas')!;
    const { data, width } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let pixels = 0;
    const columns = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i]! - 29) < 30 && Math.abs(data[i + 1]! - 111) < 30 && Math.abs(data[i + 2]! - 165) < 30 && data[i + 3]! > 200) {
        pixels += 1;
        columns.add((i / 4) % width);
      }
    }
    return { pixels, columns: columns.size };
  });

const instanceNames = async (page: Page) => (await page.locator('#instances tbody td:first-child').allTextContents()).sort();
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);

describe('dashboard in Chromium', { timeout: 240_000 }, () => {
  it('10 workers on 1 rng: true speed, chart, instances, the bottleneck sentence, page weight', async (t) => {
    const run = await dashboardOf(t, 10, 1);
    if (!run) return;
    const { page, redis, loaded } = run;

    await waitFor('a speed on the page', async () => ((await speedShown(page)) > 0 ? true : undefined), 15_000);
    await delay(10_000); // a full speed window of steady work
    const { shown, meanShown, redis: redisRate } = await speedVersusRedis(page, redis, 20_000);
    t.diagnostic(`10 workers, 1 rng: page ${meanShown.toFixed(2)} hashes/s (readings ${shown.join(' ')}), Redis ${redisRate.toFixed(2)}`);
    assert.ok(Math.abs(meanShown / redisRate - 1) <= 0.15, `page ${meanShown.toFixed(2)} vs Redis ${redisRate.toFixed(2)}`);

    const line = await chartLine(page);
    assert.ok(line.pixels > 200 && line.columns > 100, `chart line: ${line.pixels} pixels over ${line.columns} columns`);

    const names = await instanceNames(page);
    for (const name of ['rng-1', 'hasher-1', ...range('worker', 10)]) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    assert.equal(await page.locator('#worker-count').textContent(), '10');

    const sentence = page.locator('#bottleneck');
    await sentence.waitFor({ state: 'visible', timeout: 5000 });
    const text = (await sentence.textContent())!;
    t.diagnostic(`bottleneck sentence: "${text}"`);
    assert.match(text, /^rng \(1 instance\) is saturated: each call waits \d+ ms in its queue; add rng instances$/);
    const waitedMs = Number(/waits (\d+) ms/.exec(text)![1]);
    assert.ok(waitedMs >= 300, `with 10 workers on one rng, calls queue for long: ${waitedMs} ms`);

    assert.equal(await page.locator('#speed').getAttribute('aria-labelledby'), 'speed-label speed-unit');
    assert.equal(await page.locator('#chart').getAttribute('role'), 'img');

    const files = [...loaded.keys()].map((url) => new URL(url).pathname).sort();
    const bytes = [...loaded.values()].reduce((a, b) => a + b, 0);
    t.diagnostic(`page weight: ${bytes} bytes (${files.join(', ')})`);
    assert.deepEqual(files, ['/app.css', '/app.js', '/favicon.svg', '/index.html'], 'only our own files, no CDN');
    assert.ok(bytes <= MAX_PAGE_BYTES, `page weight ${bytes} bytes`);
    await finish(run, 'dashboard-10-workers-1-rng.png');
  });

  it('10 workers on 4 rng: the bottleneck sentence goes away; 4 rng instances listed', async (t) => {
    const run = await dashboardOf(t, 10, 4);
    if (!run) return;
    const { page } = run;
    await waitFor('4 rng instances listed', async () => ((await instanceNames(page)).filter((n) => n.startsWith('rng-')).length === 4 ? true : undefined), 15_000);
    await delay(6000); // the rates window fills with steady work
    // Stays away: checked every second for 8 s.
    for (let i = 0; i < 8; i++) {
      assert.equal(await page.locator('#bottleneck').isVisible(), false, `bottleneck shown: ${await page.locator('#bottleneck').textContent()}`);
      await delay(1000);
    }
    const names = await instanceNames(page);
    for (const name of [...range('rng', 4), 'hasher-1', ...range('worker', 10)]) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    t.diagnostic(`10 workers, 4 rng: ${await page.locator('#time-split').textContent()} speed ${await speedShown(page)}`);
    await finish(run, 'dashboard-10-workers-4-rng.png');
  });

  it('1 worker reads a steady 3.3 hashes/s (not 4-4-0), on a phone-sized screen', async (t) => {
    const run = await dashboardOf(t, 1, 1, { width: 390, height: 844 });
    if (!run) return;
    const { page, redis } = run;
    await waitFor('a speed on the page', async () => ((await speedShown(page)) > 0 ? true : undefined), 15_000);
    await delay(10_000);
    const { shown, redis: redisRate } = await speedVersusRedis(page, redis, 15_000);
    t.diagnostic(`1 worker: page readings ${shown.join(' ')}; Redis ${redisRate.toFixed(2)}`);
    // 1 / (3 × 100 ms) in theory; a loaded machine makes units slower, and a stall of a
    // second or more on this shared machine shows (truly) within 3 s. The original page's
    // sawtooth (4, 4, 0) would put readings 3 or more away from the typical one.
    const typical = [...shown].sort((a, b) => a - b)[Math.floor(shown.length / 2)]!;
    assert.ok(Math.abs(typical / redisRate - 1) <= 0.1, `typical reading ${typical} vs Redis ${redisRate.toFixed(2)}`);
    for (const value of shown) assert.ok(Math.abs(value - typical) <= 1, `reading ${value} far from ${typical}: ${shown.join(' ')}`);
    const atTypical = shown.filter((value) => Math.abs(value - typical) <= 0.25).length;
    assert.ok(atTypical >= 0.7 * shown.length, `steady: ${atTypical} of ${shown.length} readings within 0.25 of ${typical}`);
    const box = (await page.locator('#speed').boundingBox())!;
    assert.ok(box.height >= 60 && box.x + box.width <= 390, `speed figure ${JSON.stringify(box)} on a 390 px screen`);
    await finish(run, 'dashboard-1-worker-phone.png');
  });
});
