import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/lib/config.js';
import { memoryStore } from '../../src/lib/memory-store.js';
import { redisStore, type WorkerReport } from '../../src/lib/store.js';
import type { Dashboard } from '../../src/webui/dashboard.js';
import { buildWebui, webuiEnv } from '../../src/webui/app.js';
import { metricIn } from '../helpers/metrics.js';
import { waitFor } from '../helpers/processes.js';
import { testRedis, type TestRedis } from '../helpers/redis.js';

/** The webui on a free port with its own store on this Redis. */
async function startWebui(t: import('node:test').TestContext, redis: TestRedis) {
  const { app } = buildWebui(parseConfig(webuiEnv, { LOG_LEVEL: 'silent', REDIS_URL: redis.url }), redisStore({ url: redis.url, onError: () => {} }));
  t.after(() => app.close());
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: address };
}

/** A client of /events on its own connection, keeping the dashboards it receives. */
function subscribe(url: string) {
  const events: { event: string; data: unknown }[] = [];
  let headers: http.IncomingHttpHeaders | undefined;
  let buffer = '';
  const request = http.get(`${url}/events`, { agent: false }, (res) => {
    headers = res.headers;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
    });
  });
  request.on('error', () => {});
  return {
    events,
    headers: () => headers,
    /** The dashboard as the page knows it after each message: the whole one, then what changed. */
    dashboards: () => {
      const states: Dashboard[] = [];
      for (const e of events) {
        if (e.event === 'dashboard') states.push(e.data as Dashboard);
        if (e.event === 'change') states.push({ ...states.at(-1), ...(e.data as Partial<Dashboard>) } as Dashboard);
      }
      return states;
    },
    close: () => request.destroy(),
  };
}

/** Commands Redis has run, all clients together, except the INFO that asks. */
async function commandsRun(redis: TestRedis): Promise<number> {
  const info = await redis.client.info('commandstats');
  let total = 0;
  for (const [, name, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (name !== 'info') total += Number(calls);
  return total;
}

const report = (worker: string, at: number): WorkerReport => ({
  worker,
  at,
  intervalMs: 1000,
  units: 3,
  rng: { 'rng-1': { calls: 3, totalMs: 330, maxMs: 120 } },
  hasher: { 'hasher-1': { calls: 3, totalMs: 300, maxMs: 101 } },
});

describe('webui /events (real redis-server)', () => {
  it('streams the chart history, then a dashboard every 500 ms built from the workers\' reports', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { url } = await startWebui(t, redis);
    const writer = redisStore({ url: redis.url });
    t.after(() => writer.close());
    await waitFor('writer connected', async () => ((await writer.readTotals().catch(() => undefined)) ? true : undefined));
    let seq = 0;
    const flushes = setInterval(() => void writer.recordWork(3, [], report('worker-a', Date.now()), { writer: 'test', seq: ++seq }).catch(() => {}), 1000);
    t.after(() => clearInterval(flushes));

    const client = subscribe(url);
    t.after(() => client.close());
    await waitFor('worker-a on the dashboard', () => (client.dashboards().at(-1)?.workers.rows[0]?.name === 'worker-a' ? true : undefined));
    // Two seconds by the web UI's clock (each dashboard's `at`), not the busy test's.
    const from = client.dashboards().at(-1)!.at;
    await waitFor('2 s of dashboards', () => (client.dashboards().at(-1)!.at >= from + 2000 ? true : undefined));
    const received = client.dashboards().filter((d) => d.at > from && d.at <= from + 2000).length;
    assert.ok(received >= 3 && received <= 5, `${received} dashboards in 2 s of the web UI's clock`);

    assert.match(client.headers()!['content-type']!, /^text\/event-stream/);
    assert.equal(client.events[0]!.event, 'history', 'the chart history comes first');
    // The counter is watched for a few seconds before the speed is told.
    const last = await waitFor('a speed', () => {
      const d = client.dashboards().at(-1)!;
      return d.speed === null ? undefined : d;
    });
    assert.deepEqual(last.rng.instances.map((i) => i.name), ['rng-1']);
    assert.deepEqual(last.hasher.instances.map((i) => i.name), ['hasher-1']);
    assert.ok(last.speed! > 2.5 && last.speed! < 3.5, `speed ${last.speed}`);
    assert.ok(Number(last.hashes) >= 6);
    // After the whole dashboard, only what changed: the time always, the instances seldom.
    const changes = client.events.filter((e) => e.event === 'change').map((e) => e.data as Partial<Dashboard>);
    assert.equal(client.events[1]!.event, 'dashboard');
    assert.ok(changes.every((c) => 'at' in c));
    assert.ok(changes.filter((c) => 'rng' in c).length < changes.length / 2, 'unchanged fields are not sent again');

    // A page opened later gets the chart so far at once: opened once the web UI's own clock has
    // run 6 s since the first page's first dashboard (not after however long the steps above took).
    const firstAt = client.dashboards()[0]!.at;
    await waitFor('6 s of dashboards', () => (client.dashboards().at(-1)!.at >= firstAt + 6000 ? true : undefined));
    const late = subscribe(url);
    t.after(() => late.close());
    await waitFor('history', () => (late.events[0] ? true : undefined));
    const [times, speeds] = late.events[0]!.data as [number[], number[]];
    assert.equal(late.events[0]!.event, 'history');
    assert.equal(times.length, speeds.length);
    // At most one point a second, by the web UI's clock: 6 s of samples span at least 5 s of points.
    assert.ok(times[0]! <= firstAt / 1000 + 0.1 && times.at(-1)! - times[0]! >= 5, `points from ${times[0]} to ${times.at(-1)}, first dashboard at ${firstAt / 1000}`);
  });

  it('200 open pages do not multiply the Redis reads: one sampler serves them all', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { url } = await startWebui(t, redis);
    const first = subscribe(url);
    t.after(() => first.close());
    await waitFor('first dashboard', () => (first.dashboards().length > 0 ? true : undefined));

    // Redis commands per dashboard the first page received, over 6 of them: a count of the
    // sampler's own pace, not of the busy test's seconds.
    const SAMPLES = 6;
    const measure = async () => {
      const before = await commandsRun(redis);
      const seen = first.dashboards().length;
      await waitFor(`${SAMPLES} dashboards`, () => (first.dashboards().length >= seen + SAMPLES ? true : undefined), 15_000);
      return ((await commandsRun(redis)) - before) / SAMPLES;
    };
    const withOne = await measure();
    const pages = Array.from({ length: 200 }, () => subscribe(url));
    t.after(() => pages.forEach((p) => p.close()));
    await waitFor('200 pages connected', () => (pages.every((p) => p.dashboards().length > 0) ? true : undefined), 15_000);
    const counts = pages.map((p) => p.dashboards().length);
    const withTwoHundred = await measure();
    const received = pages.map((p, i) => p.dashboards().length - counts[i]!);

    // Each sample is a handful of commands (HLEN, GET, SCAN, LRANGE), whatever the number of pages.
    t.diagnostic(`Redis commands a sample: ${withOne} with one page, ${withTwoHundred} with 200`);
    assert.ok(withOne > 0 && withOne <= 8, `${withOne} commands a sample with one page`);
    assert.ok(withTwoHundred <= withOne * 1.5 + 1, `${withTwoHundred} commands a sample with 200 pages (vs ${withOne} with one)`);
    assert.ok(Math.min(...received) >= SAMPLES - 2, `every page got its dashboards (fewest: ${Math.min(...received)} of ${SAMPLES})`);
  });

  it('keeps no event client once its client is gone: HEAD, closed mid-stream, gone before the answer', async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const { url } = await startWebui(t, redis);
    const clients = async () => metricIn(await (await fetch(`${url}/metrics`)).text(), 'webui_event_clients');
    // fastify answers a HEAD by resuming the stream without ending it: 5,000 of them were 5,000 clients for ever.
    for (let i = 0; i < 200; i++) assert.equal((await fetch(`${url}/events`, { method: 'HEAD' })).status, 200);
    const streams = Array.from({ length: 20 }, () => subscribe(url));
    await waitFor('20 streams', () => (streams.every((s) => s.headers()) ? true : undefined));
    streams.forEach((s) => s.close());
    // Gone before the answer: written, then closed at once.
    for (let i = 0; i < 20; i++) {
      const socket = connect(Number(new URL(url).port), '127.0.0.1').on('error', () => {});
      socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n', () => socket.destroy());
    }
    await waitFor('no event client left', async () => ((await clients()) === 0 ? true : undefined));
  });
});

describe('webui page (store in memory)', () => {
  it('serves the page with a strict Content-Security-Policy', async (t) => {
    // The page is the subject, not the data: the store in memory, so that this runs without Redis.
    const { app } = buildWebui(parseConfig(webuiEnv, { LOG_LEVEL: 'silent' }), memoryStore());
    t.after(() => app.close());
    const res = await app.inject('/index.html');
    assert.equal(res.statusCode, 200);
    const csp = res.headers['content-security-policy'] as string;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.doesNotMatch(res.body, /<script>|<style|\sstyle=|\son\w+=/i, 'no inline code for the policy to block');
  });
});
