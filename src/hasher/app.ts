// hasher: the sha256 of whatever is POSTed, after a delay; fully concurrent.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { count, millis, serverEnv } from '../lib/config.js';
import { readBody } from '../lib/fast-path.js';
import { answerWhenReady, createServer, notFound, type Service } from '../lib/server.js';
import { sleep } from '../lib/sleep.js';

export const hasherEnv = {
  ...serverEnv,
  HASHER_DELAY_MS: millis(100),
  // At least 1 byte (fastify refuses a limit of 0); the body is held in memory: at most 1 GiB.
  HASHER_MAX_BODY_BYTES: count(1024 * 1024, 1024 ** 3),
};
export type HasherConfig = z.output<z.ZodObject<typeof hasherEnv>>;

export function buildHasher(config: HasherConfig): Service {
  const service = createServer({
    service: 'hasher',
    ...config,
    bodyLimit: config.HASHER_MAX_BODY_BYTES,
    // POST / with a Content-Length within the limit (the worker's call), on bare node:http; a
    // chunked body, or one over the limit (413), is fastify's.
    fastPath: (request, send) => {
      if (request.method !== 'POST' || request.url !== '/' || request.headers['transfer-encoding'] !== undefined) return false;
      const length = Number(request.headers['content-length'] ?? 0);
      if (!(length <= config.HASHER_MAX_BODY_BYTES)) return false;
      readBody(request, length, (body) => hash(body, (digest) => send('/', 'text/plain;charset=utf-8', digest)));
      return true;
    },
    // Only GET/HEAD / and POST / exist (plus health and metrics); decide before reading a body.
    onRequest: (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (request.method === 'POST' && path === '/') return undefined;
      if ((request.method === 'GET' || request.method === 'HEAD') && ['/', '/healthz', '/metrics'].includes(path)) return undefined;
      return notFound(request, reply);
    },
  });
  const { app } = service;

  // Whatever the Content-Type (the worker sends application/octet-stream), hash the raw bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.get('/', async (_request, reply) =>
    reply.type('text/plain; charset=utf-8').send(`HASHER running on ${config.INSTANCE_NAME}\n`),
  );

  /** The body's sha256 in hex, given to `answer` after the delay (at delay 0, the bench: at once). */
  const hash = (body: Buffer, answer: (digest: string) => unknown) => {
    // Shutdown ends the delay: every request in flight is answered before the connections close.
    const delayed = config.HASHER_DELAY_MS > 0 ? sleep(config.HASHER_DELAY_MS, service.shutdown) : undefined;
    return answerWhenReady(delayed, () => answer(createHash('sha256').update(body).digest('hex')));
  };

  app.post('/', (request, reply) =>
    hash(Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0), (digest) => reply.type('text/plain;charset=utf-8').send(digest)),
  );

  return service;
}
