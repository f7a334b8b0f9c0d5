// The workshop's rates with the default delays (100 ms), measured on the real services with a
// real redis-server, beside the original's figures (contract.md, 60 s medians).
// Usage: npx tsx bench/rates.ts [seconds per window, default 30]
import { createClient } from '@redis/client';
import { freePort, startLocal, startRedisServer } from '../src/cli/local.js';

const windowSeconds = Number(process.argv[2] ?? 30);
const cases = [
  { workers: 1, rng: 1, original: 3.26, theory: 3.33 },
  { workers: 10, rng: 1, original: 9.73, theory: 10 },
  { workers: 10, rng: 2, original: 19.5, theory: 20 },
];

const redisServer = await startRedisServer();
if (!redisServer) throw new Error('redis-server is needed: apt-get install -y redis-server');
const redis = createClient({ url: redisServer.url });
await redis.connect();
const rows = [];
for (const c of cases) {
  await redis.flushAll();
  const app = await startLocal({
    workers: c.workers,
    rng: c.rng,
    host: '127.0.0.1',
    webuiPort: await freePort(),
    rngPort: await freePort(),
    hasherPort: await freePort(),
    env: { REDIS_URL: redisServer.url, LOG_LEVEL: 'silent' },
    say: () => {},
  });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const h0 = Number(await redis.get('hashes'));
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
  const rate = (Number(await redis.get('hashes')) - h0) / ((performance.now() - t0) / 1000);
  await app.stop();
  rows.push({ ...c, rate: Math.round(rate * 100) / 100, ratioToOriginal: Math.round((rate / c.original) * 100) / 100 });
  console.log(`${c.workers} workers, ${c.rng} rng: ${rate.toFixed(2)} hashes/s (original ${c.original}, theory ${c.theory})`);
}
redis.destroy();
await redisServer.stop();
console.table(rows);
