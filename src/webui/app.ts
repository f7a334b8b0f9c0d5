// webui: the dashboard page, its event stream, /json (the original's numbers, for
// compatibility) and the static files.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { Gauge } from 'prom-client';
import * as z from 'zod';
import { redisUrl, serverEnv } from '../lib/config.js';
import { createServer, shuttingDown, type Service } from '../lib/server.js';
import { untilShutdown } from '../lib/shutdown.js';
import { WrongTypeError } from '../lib/key-types.js';
import { redisStore, WEBUI_STORE_DEADLINE_MS, type RedisStoreOptions, type Store, type Totals } from '../lib/store.js';
import { describeError } from '../lib/errors.js';
import { Changes, EventStream, sseFrame } from './events.js';
import { Sampler } from './sampler.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export const webuiEnv = {
  ...serverEnv,
  REDIS_URL: redisUrl,
  // Where index.html and its assets are; the bundle puts them beside the script. Checked at
  // start: without it the web UI would run and serve no page.
  WEBUI_PUBLIC_DIR: z
    .string()
    .default(path.join(here, 'public'))
    .refine((dir) => existsSync(path.join(dir, 'index.html')), 'expected a folder holding index.html'),
};
export type WebuiConfig = z.output<z.ZodObject<typeof webuiEnv>>;

// The page loads only its own files and talks only to its own origin; no inline code.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The web UI's Redis store, with the web UI's deadline (store.ts says why it is its own). */
export const webuiStore = (url: string, onFatal?: RedisStoreOptions['onFatal']): Store =>
  redisStore({ url, deadlineMs: WEBUI_STORE_DEADLINE_MS, onError: () => {}, onFatal });

export function buildWebui(config: WebuiConfig, store: Store): Service {
  const service = createServer({
    service: 'webui',
    ...config,
    // Redis answers, and its keys hold what the page reads (a wrong type is not ready).
    ready: async () => void (await Promise.all([store.readTotals(), store.readRecentCoins()])),
    onRequest: (_request, reply) => {
      reply.headers(SECURITY_HEADERS);
      return undefined;
    },
  });
  const { app } = service;

  app.get('/', async (_request, reply) => reply.redirect('/index.html', 302));
  addJsonRoutes(service, store);
  app.register(fastifyStatic, {
    root: path.resolve(config.WEBUI_PUBLIC_DIR),
    maxAge: '1m',
    // index.html.br and .gz beside each file, made by the build: no compression at run time.
    preCompressed: true,
    // GET / is our redirect, as in the original.
    index: false,
    wildcard: false,
  });
  addDashboardEvents(service, store);
  return service;
}

/** /json, the original's numbers. */
function addJsonRoutes({ app, shutdown }: Service, store: Store) {
  const json = async (_request: unknown, reply: FastifyReply) => {
    let totals: Totals | undefined;
    try {
      totals = await untilShutdown(store.readTotals(), shutdown);
    } catch (err) {
      // The original answered a non-integer counter as it was ("foo"): a number nobody can use.
      if (err instanceof WrongTypeError) return reply.code(500).send({ error: err.message });
      return reply.code(503).send({ error: `Redis is unavailable: ${describeError(err)}` });
    }
    if (!totals) return shuttingDown(reply);
    return reply.send({ coins: totals.coins, hashes: totals.hashes, now: Date.now() / 1000 });
  };
  app.get('/json', json);
  app.get('/json/', json);
}

/** /events, the dashboard's stream: the sampler's history first, then each change, from start to close. */
function addDashboardEvents({ app, metrics, shutdown }: Service, store: Store) {
  const sampler = new Sampler({ store });
  const events = new EventStream();
  const changes = new Changes();
  sampler.onSample((dashboard) => events.broadcast('change', changes.of(dashboard)));
  new Gauge({
    name: 'webui_event_clients',
    help: 'Pages connected to /events',
    registers: [metrics],
    collect() {
      this.set(events.size);
    },
  });
  app.get('/events', async (_request, reply) => {
    const first = sseFrame('history', sampler.history) + (sampler.latest ? sseFrame('dashboard', sampler.latest) : '');
    return reply
      .type('text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache, no-transform')
      // Proxies such as nginx would otherwise hold the stream back.
      .header('x-accel-buffering', 'no')
      .send(events.open(first, reply.raw));
  });
  app.addHook('onReady', async () => sampler.start());
  // Open streams would hold the server's close back.
  shutdown.addEventListener('abort', () => events.close());
  app.addHook('onClose', async () => {
    const stopped = sampler.stop();
    // Closed first: a read in flight on a stalled Redis fails now instead of holding the exit back.
    await store.close();
    await stopped;
  });
}
