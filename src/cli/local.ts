// `dockercoins start`: the whole app on this machine, no Docker needed, in one process.
// webui on 8000, rng on 8001, hasher on 8002 (the workshop's Compose ports); extra rng
// instances on 8101, 8102... Redis: REDIS_URL if set, else a throwaway redis-server if one
// is on PATH, else an in-process store.
import path from 'node:path';
import { parseConfig, withoutPassword } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService, stopOnFailure } from '../lib/startup.js';
import { urlHost } from '../lib/address.js';
import { distDir } from '../lib/paths.js';
import { startRedisServer } from '../lib/redis-server.js';
import { memoryStore } from '../lib/memory-store.js';
import { redisStore, type RedisStoreOptions, type Store } from '../lib/store.js';
import { buildHasher, hasherEnv } from '../hasher/app.js';
import { buildRng, rngEnv } from '../rng/app.js';
import { buildWebui, webuiEnv, webuiStore } from '../webui/app.js';
import { buildWorker, workerEnv, type WorkerService } from '../worker/app.js';
import type { WorkerSummary } from '../worker/worker.js';

export interface LocalOptions {
  workers: number;
  rng: number;
  host: string;
  webuiPort: number;
  rngPort: number;
  hasherPort: number;
  env?: Record<string, string | undefined>;
  say?: (line: string) => void;
}

export interface LocalApp {
  url: string;
  rngUrls: string[];
  hasherUrl: string;
  redis: string;
  /** Stops the workers first (their counts saved), the services, and the throwaway Redis last. */
  stop(): Promise<WorkerSummary>;
}

export const rngPorts = (first: number, count: number) =>
  Array.from({ length: count }, (_, i) => (i === 0 ? first : first + 99 + i));

export async function startLocal(options: LocalOptions): Promise<LocalApp> {
  const env = options.env ?? process.env;
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const common = { HOST: options.host, LOG_LEVEL: env.LOG_LEVEL ?? 'warn' };
  const started = new Started();
  const { stops, workers } = started;

  try {
    const store = await storeFor(env, say);
    started.stopRedis = store.stopRedis;

    const rngUrls: string[] = [];
    for (const [i, port] of rngPorts(options.rngPort, options.rng).entries()) {
      const config = parseConfig(rngEnv, { ...env, ...common, PORT: String(port), INSTANCE_NAME: `rng-${i + 1}` });
      const { app } = buildRng(config);
      stops.push(() => app.close());
      await listen(app, port, options.host);
      rngUrls.push(`http://${hostFor(options.host)}:${port}`);
    }

    const hasher = buildHasher(
      parseConfig(hasherEnv, { ...env, ...common, PORT: String(options.hasherPort), INSTANCE_NAME: 'hasher-1' }),
    );
    stops.push(() => hasher.app.close());
    await listen(hasher.app, options.hasherPort, options.host);
    const hasherUrl = `http://${hostFor(options.host)}:${options.hasherPort}`;

    for (let i = 0; i < options.workers; i++) {
      const config = parseConfig(workerEnv, {
        ...env,
        ...common,
        INSTANCE_NAME: `worker-${i + 1}`,
        RNG_URL: rngUrls.join(','),
        HASHER_URL: hasherUrl,
      });
      const worker = buildWorker(config, store.workerStore());
      workers.push(worker);
      worker.worker.start();
    }

    const webui = buildWebui(
      parseConfig(webuiEnv, {
        ...env,
        ...common,
        PORT: String(options.webuiPort),
        INSTANCE_NAME: 'webui-1',
        WEBUI_PUBLIC_DIR: env.WEBUI_PUBLIC_DIR ?? path.join(distDir, 'public'),
      }),
      store.webuiStore(),
    );
    stops.unshift(() => webui.app.close());
    await listen(webui.app, options.webuiPort, options.host);

    return { url: `http://localhost:${options.webuiPort}`, rngUrls, hasherUrl, redis: store.redis, stop: () => started.stopAll() };
  } catch (err) {
    await started.stopAll().catch(() => {});
    throw err;
  }
}

/** What has been started, so that a failure half-way stops it and a clean stop stops it all. */
class Started {
  readonly stops: (() => Promise<unknown>)[] = [];
  readonly workers: WorkerService[] = [];
  stopRedis = async () => {};

  async stopAll(): Promise<WorkerSummary> {
    // Workers first, so that their last counts are saved while the store is still there.
    const summaries = await Promise.all(this.workers.map((w) => w.stop()));
    for (const stop of this.stops) await stop();
    await this.stopRedis();
    const total = (key: keyof WorkerSummary) => summaries.reduce((sum, s) => sum + s[key], 0);
    return { units: total('units'), saved: total('saved'), notSaved: total('notSaved'), unknown: total('unknown') };
  }
}

/** The host part of a URL reaching a service that listens on `host`. */
function hostFor(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : urlHost(host);
}

async function storeFor(env: Record<string, string | undefined>, say: (line: string) => void) {
  if (env.REDIS_URL) {
    say(`Redis: ${withoutPassword(env.REDIS_URL)} (REDIS_URL)`);
    const onFatal = (err: Error) => stopOnFailure('dockercoins start', err);
    return { redis: env.REDIS_URL, ...redisStores(env.REDIS_URL, onFatal), stopRedis: async () => {} };
  }
  const server = await startRedisServer();
  if (server) {
    say(`Redis: a throwaway redis-server on ${server.url}`);
    return { redis: server.url, ...redisStores(server.url), stopRedis: server.stop };
  }
  say('Redis: no REDIS_URL and no redis-server on PATH; using an in-process store (lost on exit)');
  const shared = memoryStore();
  const store: Store = { ...shared, close: async () => {} };
  return { redis: 'in-process', workerStore: () => store, webuiStore: () => store, stopRedis: async () => {} };
}

/** Each worker's store and the web UI's, on the Redis at `url`, each with its service's deadline. */
function redisStores(url: string, onFatal?: RedisStoreOptions['onFatal']) {
  return { workerStore: () => redisStore({ url, onFatal }), webuiStore: () => webuiStore(url, onFatal) };
}

/** For the CLI: start (or say in one line why not), print where to look, stop cleanly on Ctrl-C. */
export async function runLocal(options: LocalOptions): Promise<void> {
  // A port in use, a HOST that does not resolve, a bad variable: one line and exit 1, as the services do.
  const app = await runService('dockercoins start', () => startLocal(options));
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  say(`rng: ${app.rngUrls.join(', ')}   hasher: ${app.hasherUrl}   workers: ${options.workers}`);
  say(`DockerCoins is mining: open ${app.url}   (Ctrl-C to stop)`);
  exitOnSignals(
    async () => {
      const { units, saved, notSaved, unknown } = await app.stop();
      const unknownPart = unknown > 0 ? `, ${unknown} may or may not be` : '';
      say(`stopped: ${units} units done, ${saved} saved, ${notSaved} not saved${unknownPart}`);
      return notSaved + unknown > 0 ? 1 : 0;
    },
    { info: say, error: (_o, msg) => say(msg) },
    3000,
  );
}
