// The pipeline's ceiling: the worker's loop with nothing else. Bytes from RNG_URL, their hash
// from HASHER_URL, the count added to Redis once a second; undici with kept-alive connections
// (like UPSTREAM_CONNECTIONS=keep-alive), no metrics, no logs, no server, no error handling.
import { createClient } from '@redis/client';
import { Agent, request } from 'undici';

const agent = new Agent();
const redis = createClient({ url: process.env.REDIS_URL });
await redis.connect();
let pending = 0;
let running = true;

setInterval(() => {
  const units = pending;
  pending = 0;
  if (units > 0) void redis.incrBy('hashes', units);
}, 1000);
process.once('SIGTERM', () => (running = false));

while (running) {
  const random = await request(`${process.env.RNG_URL}/32`, { dispatcher: agent });
  const bytes = Buffer.from(await random.body.arrayBuffer());
  const hashed = await request(`${process.env.HASHER_URL}/`, { method: 'POST', body: bytes, dispatcher: agent });
  await hashed.body.text();
  pending += 1;
}
await redis.incrBy('hashes', pending);
process.exit(0);
