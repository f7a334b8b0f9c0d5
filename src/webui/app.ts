// webui: the page, /json (the original's numbers, for compatibility) and the static files.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { z } from 'zod';
import { redisUrl, serverEnv } from '../lib/config.js';
import { createServer, type Service } from '../lib/server.js';
import type { Store, Totals } from '../lib/store.js';
import { describe } from '../worker/upstream.js';

export const webuiEnv = {
  ...serverEnv,
  REDIS_URL: redisUrl,
  // Where index.html and its assets are; the bundle puts them beside the script.
  WEBUI_PUBLIC_DIR: z.string().optional(),
};
export type WebuiConfig = z.output<z.ZodObject<typeof webuiEnv>>;

const here = path.dirname(fileURLToPath(import.meta.url));

export function buildWebui(config: WebuiConfig, store: Store): Service {
  const service = createServer({ service: 'webui', ...config });
  const { app } = service;

  app.get('/', async (_request, reply) => reply.redirect('/index.html', 302));

  const json = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    let totals: Totals;
    try {
      totals = await store.readTotals();
    } catch (err) {
      return reply.code(503).send({ error: `Redis is unavailable: ${describe(err)}` });
    }
    return reply.send({ coins: totals.coins, hashes: totals.hashes, now: Date.now() / 1000 });
  };
  app.get('/json', json);
  app.get('/json/', json);

  app.register(fastifyStatic, {
    root: config.WEBUI_PUBLIC_DIR ?? path.join(here, 'public'),
    maxAge: '1m',
    // GET / is our redirect, as in the original.
    index: false,
    wildcard: false,
  });
  app.addHook('onClose', () => store.close());
  return service;
}
