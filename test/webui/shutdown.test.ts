// The web UI stopped by SIGTERM while Redis is stalled: a /json in flight is answered (a
// one-line 503) and the process exits 143, not 1 after its deadline (real bundle, real Redis).
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startService, waitFor } from '../helpers/processes.js';
import { testRedis } from '../helpers/redis.js';
import { socketInodes, TCP_STATE } from '../helpers/sockets.js';

it('SIGTERM with Redis stalled (DEBUG SLEEP 3): /json in flight gets a one-line 503, exit 143', { timeout: 60_000 }, async (t) => {
  const redis = await testRedis(t, ['--enable-debug-command', 'yes']);
  if (!redis) return;
  const webui = await startService(t, 'webui', { REDIS_URL: redis.url });
  // A client of its own: the stall blocks every command on redis.client's connection too.
  const stall = redis.client.duplicate().on('error', () => {});
  await stall.connect();
  t.after(() => stall.destroy());
  const stalled = stall.sendCommand(['DEBUG', 'SLEEP', '3']).catch(() => undefined);
  await waitFor('Redis stalled', async () => ((await Promise.race([redis.client.ping(), delay(300).then(() => 'stalled')])) === 'stalled' ? true : undefined));
  const idle = socketInodes(webui.port, [TCP_STATE.established]).length;
  // On a connection of its own (fetch would reuse its pool's), which shows it in flight.
  const json = new Promise<{ status?: number; type?: string; body: string }>((resolve, reject) => {
    get(`${webui.url}/json`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    }).on('error', reject);
  });
  await waitFor('/json in flight', () => (socketInodes(webui.port, [TCP_STATE.established]).length > idle ? true : undefined));
  await delay(200);
  const { code } = await webui.stop('SIGTERM');
  assert.equal(code, 143, `exit code: ${webui.logs.map((l) => l.msg).join(' | ')}`);
  assert.deepEqual(await json, { status: 503, type: 'text/plain; charset=utf-8', body: 'Service Unavailable: shutting down\n' });
  assert.equal(webui.logs.find((l) => l.level >= 50), undefined, 'no error line');
  await stalled;
});
