// Instance names come from peers (X-Instance): whatever they send, the worker's metrics and
// reports stay within a fixed number of series.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { InstanceLabels, MAX_INSTANCES, OTHER } from '../../src/worker/instances.js';
import type { WorkerReport } from '../../src/lib/store.js';
import { startService, waitFor } from '../helpers/processes.js';
import { testRedis } from '../helpers/redis.js';

describe('InstanceLabels', () => {
  it('keeps at most max names per dependency, folds the rest into "other", drops names idle too long', () => {
    let now = 0;
    const dropped: string[] = [];
    const labels = new InstanceLabels({ max: 2, idleMs: 1000, onDrop: (d, i) => dropped.push(`${d}/${i}`), now: () => now });
    assert.equal(labels.label('rng', 'a'), 'a');
    assert.equal(labels.label('rng', 'b'), 'b');
    assert.equal(labels.label('rng', 'c'), OTHER);
    assert.equal(labels.label('hasher', 'c'), 'c', 'each dependency has its own room');
    assert.equal(labels.label('hasher', 'x'.repeat(500)).length, 100, 'a long name is cut');
    now = 600;
    assert.equal(labels.label('rng', 'a'), 'a');
    now = 1300; // b, other and hasher's c idle for 1300 ms; a for 700 ms
    assert.equal(labels.label('rng', 'd'), 'd');
    assert.deepEqual(dropped.sort(), ['hasher/c', `hasher/${'x'.repeat(100)}`, 'rng/b', `rng/${OTHER}`]);
  });
});

/** An rng or hasher that answers correctly, naming itself anew each time. */
async function renamingUpstream(t: TestContext, answer: (body: Buffer) => Buffer) {
  let served = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      served += 1;
      response.writeHead(200, { 'x-instance': `churn-${served}-${Math.random().toString(36).slice(2)}`, 'content-type': 'application/octet-stream' });
      response.end(answer(Buffer.concat(chunks)));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  server.keepAliveTimeout = 60_000;
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, served: () => served };
}

const instanceLabels = (metrics: string, dependency: string) =>
  new Set([...metrics.matchAll(new RegExp(`^worker_call_duration_seconds_count\\{[^}]*dependency="${dependency}"[^}]*instance="([^"]*)"`, 'gm'))].map((m) => m[1]));

describe('worker metrics against upstreams that rename themselves', () => {
  it(`10,000 distinct instance names: at most ${MAX_INSTANCES} + "other" per dependency in /metrics and in reports`, { timeout: 180_000 }, async (t) => {
    const redis = await testRedis(t);
    if (!redis) return;
    const rng = await renamingUpstream(t, () => Buffer.alloc(32, 7));
    const hasher = await renamingUpstream(t, (body) => Buffer.from(createHash('sha256').update(body).digest('hex')));
    const worker = await startService(t, 'worker', {
      WORK_DELAY_MS: '0',
      RNG_URL: rng.url,
      HASHER_URL: hasher.url,
      REDIS_URL: redis.url,
      UPSTREAM_CONNECTIONS: 'keep-alive',
      LOG_LEVEL: 'warn',
    });
    const seriesBefore = (await (await fetch(`${worker.url}/metrics`)).text()).split('\n').filter((l) => /^\w/.test(l)).length;
    await waitFor('10,000 instance names served', () => (rng.served() + hasher.served() >= 10_000 ? true : undefined), 170_000);
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    const series = metrics.split('\n').filter((l) => /^\w/.test(l)).length;
    for (const dependency of ['rng', 'hasher']) {
      const labels = instanceLabels(metrics, dependency);
      assert.equal(labels.size, MAX_INSTANCES + 1, `${dependency}: ${labels.size} instance labels`);
      assert.ok(labels.has(OTHER));
    }
    const [reportKey] = await redis.client.keys('dockercoins:worker:*');
    assert.ok(reportKey, 'the worker wrote a report');
    const report = JSON.parse((await redis.client.get(reportKey))!) as WorkerReport;
    for (const byInstance of [report.rng, report.hasher]) assert.ok(Object.keys(byInstance).length <= MAX_INSTANCES + 1, JSON.stringify(report));
    t.diagnostic(`${rng.served() + hasher.served()} instance names served: /metrics has ${series} series (${seriesBefore} before any call)`);
  });
});
