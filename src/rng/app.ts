// rng: random bytes from the OS CSPRNG, served one request at a time with a delay,
// like the original single-threaded Flask server. That queue is the workshop's bottleneck.
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { Counter, Gauge } from 'prom-client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { millis, serverEnv } from '../lib/config.js';
import { queuedHistogram } from '../lib/histogram.js';
import { fastRoute, type FastRoute } from '../lib/fast-route.js';
import { createServer, httpError, notFound, type Service } from '../lib/server.js';
import { sleep } from '../lib/sleep.js';

export const MAX_BYTES = 1024 * 1024;

export const rngEnv = {
  ...serverEnv,
  RNG_DELAY_MS: millis(100),
};
export type RngConfig = z.output<z.ZodObject<typeof rngEnv>>;

export function buildRng(config: RngConfig): Service {
  // Served at once (delay 0, nobody queued: the bench), the answer goes at once.
  const randomBytesRoute = fastRoute(randomBytesSpec((count, request) => inTurn(request.socket, () => randomBytes(count))));
  const service = createServer({ fastPath: randomBytesRoute.fastPath, service: 'rng', ...config, onRequest: refuseOtherMethods });
  const inTurn = oneAtATime(config.RNG_DELAY_MS, service);

  service.app.get('/', async (request, reply) => {
    const body = await inTurn(request.socket, () => `RNG running on ${config.INSTANCE_NAME}\n`);
    return reply.type('text/plain; charset=utf-8').send(body);
  });
  service.app.route(randomBytesRoute.options);

  return service;
}

/** GET /<n> (the worker's call), on bare node:http when the fast path takes it. */
function randomBytesSpec(answer: FastRoute<number>['answer']): FastRoute<number> {
  return {
    method: 'GET',
    url: '/:n',
    contentType: 'application/octet-stream',
    fromFastify: (request) => {
      const count = byteCount((request.params as { n: string }).n);
      if (count instanceof Error) throw count;
      return count;
    },
    // A path of digits only: a query, an absolute URL or an error is fastify's.
    fromNode: (request, take) => {
      const count = byteCount(request.url!.slice(1));
      if (count instanceof Error) return false;
      take(count);
      return true;
    },
    answer,
  };
}

/** Decides the method before any body is read: 405 on our paths, 404 elsewhere. */
function refuseOtherMethods(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined;
  const path = request.url.split('?')[0]!;
  if (!/^\/\d*$/.test(path)) return notFound(request, reply);
  if (request.method === 'OPTIONS') return reply.header('allow', 'HEAD, OPTIONS, GET').send();
  return reply
    .code(405)
    .header('allow', 'HEAD, OPTIONS, GET')
    .type('text/plain; charset=utf-8')
    .send(`Method Not Allowed: ${request.method}; use GET\n`);
}

/**
 * The one-at-a-time queue of an instance, GET / included (the original runs `flask run
 * --without-threads`), and its metrics. Returns `inTurn`: runs `answer` when this request's turn
 * comes, after the delay; skips clients that left.
 */
function oneAtATime(delayMs: number, { metrics, shutdown }: Service) {
  const queue = pLimit(1);
  new Gauge({
    name: 'rng_queue_depth',
    help: 'Requests waiting for or holding the one-at-a-time lock',
    registers: [metrics],
    collect() {
      this.set(queue.activeCount + queue.pendingCount);
    },
  });
  const waited = queuedHistogram({
    name: 'rng_queue_wait_seconds',
    help: 'Time a request waited in the queue before its turn',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [metrics],
  }).series();
  const abandoned = new Counter({
    name: 'rng_abandoned_total',
    help: 'Queued requests skipped at their turn: their client had left (timed out)',
    registers: [metrics],
  });

  return <T>(socket: { destroyed: boolean }, answer: () => T): T | Promise<T | undefined> => {
    // No delay and nobody ahead: the turn is now. `answer` is synchronous, so requests are still
    // served one at a time, without the queue's promises (their cost at delay 0: bench/README.md).
    if (delayMs === 0 && queue.activeCount === 0 && queue.pendingCount === 0) {
      waited(0);
      return answer();
    }
    const queuedAt = performance.now();
    return queue(async () => {
      waited((performance.now() - queuedAt) / 1000);
      // A client that gave up (timeout) must not cost the others a delay.
      if (socket.destroyed) {
        abandoned.inc();
        return undefined;
      }
      // Shutdown ends the delay: every request in flight is answered before the connections close.
      await sleep(delayMs, shutdown);
      return answer();
    });
  };
}

/** The number of bytes /:n asks for, or the 404 or 400 answer for anything else. */
function byteCount(n: string): number | Error {
  if (!/^\d+$/.test(n)) return httpError(404, `Not Found: expected /<number of bytes>, got /${n}`);
  // Leading zeros are fine (/007 is 7); the bound is checked on the digits, never allocated.
  const digits = n.replace(/^0+(?=\d)/, '');
  if (digits.length > 7 || Number(digits) > MAX_BYTES) {
    return httpError(400, `Bad Request: at most ${MAX_BYTES} bytes per request, asked for ${n}`);
  }
  return Number(digits);
}
