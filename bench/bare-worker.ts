// The pipeline's ceiling: the worker's loop with nothing else. Bytes from RNG_URL, their hash
// from HASHER_URL, the count added to Redis once a second; kept-alive connections (like
// UPSTREAM_CONNECTIONS=keep-alive), no metrics, no logs, no server, no error handling.
// BARE_CLIENT: undici (default) or node:http (the client our worker uses), so that the ceiling
// is the best client measured, not one library against another.
import http from 'node:http';
import { createClient } from '@redis/client';
import { Agent, request } from 'undici';

type Call = (url: string, body?: Buffer) => Promise<Buffer>;

const undici = (): Call => {
  const dispatcher = new Agent();
  return async (url, body) => {
    const response = await request(url, { method: body ? 'POST' : 'GET', body, dispatcher });
    return Buffer.from(await response.body.arrayBuffer());
  };
};

const nodeHttp = (): Call => {
  const agent = new http.Agent({ keepAlive: true });
  return (url, body) =>
    new Promise((resolve, reject) => {
      const call = http.request(url, { method: body ? 'POST' : 'GET', agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks)));
      });
      call.on('error', reject);
      call.end(body);
    });
};

const call = process.env.BARE_CLIENT === 'node:http' ? nodeHttp() : undici();
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
  const bytes = await call(`${process.env.RNG_URL}/32`);
  await call(`${process.env.HASHER_URL}/`, bytes);
  pending += 1;
}
await redis.incrBy('hashes', pending);
process.exit(0);
