// hasher: the sha256 of whatever is POSTed, after a delay; fully concurrent.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { count, millis, serverEnv } from '../lib/config.js';
import { readBody } from '../lib/fast-path.js';
import { fastRoute } from '../lib/fast-route.js';
import { createServer, notFound, type Service } from '../lib/server.js';
import { sleep } from '../lib/sleep.js';

export const hasherEnv = {
  ...serverEnv,
  HASHER_DELAY_MS: millis(100),
  // At least 1 byte (fastify refuses a limit of 0); the body is held in memory: at most 1 GiB.
  HASHER_MAX_BODY_BYTES: count(1024 * 1024, 1024 ** 3),
};
export type HasherConfig = z.output<z.ZodObject<typeof hasherEnv>>;

export function buildHasher(config: HasherConfig): Service {
  // POST / (the worker's call), on bare node:http when the fast path takes it.
  const hashRoute = fastRoute({
    method: 'POST',
    url: '/',
    contentType: 'text/plain;charset=utf-8',
    // Whatever the Content-Type (the worker sends application/octet-stream): the raw bytes.
    fromFastify: (request) => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)),
    // A Content-Length within the limit; a chunked body, or one over the limit (413), is fastify's.
    fromNode: (request, take) => {
      if (request.url !== '/' || request.headers['transfer-encoding'] !== undefined) return false;
      const length = Number(request.headers['content-length'] ?? 0);
      if (!(length <= config.HASHER_MAX_BODY_BYTES)) return false;
      readBody(request, length, take);
      return true;
    },
    // The body's sha256 in hex, after the delay (at delay 0, the bench: at once). Shutdown ends
    // the delay: every request in flight is answered before the connections close.
    answer: (body) => {
      const digest = () => createHash('sha256').update(body).digest('hex');
      return config.HASHER_DELAY_MS > 0 ? sleep(config.HASHER_DELAY_MS, service.shutdown).then(digest) : digest();
    },
  });
  const service = createServer({
    service: 'hasher',
    ...config,
    bodyLimit: config.HASHER_MAX_BODY_BYTES,
    fastPath: hashRoute.fastPath,
    // Only GET/HEAD / and POST / exist (plus health and metrics); decide before reading a body.
    onRequest: (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (request.method === 'POST' && path === '/') return undefined;
      if ((request.method === 'GET' || request.method === 'HEAD') && ['/', '/healthz', '/metrics'].includes(path)) return undefined;
      return notFound(request, reply);
    },
  });
  const { app } = service;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.get('/', async (_request, reply) =>
    reply.type('text/plain; charset=utf-8').send(`HASHER running on ${config.INSTANCE_NAME}\n`),
  );

  app.route(hashRoute.options);

  return service;
}
