import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService, stopOnFailure } from '../lib/startup.js';
import { redisStore } from '../lib/store.js';
import { buildWorker, workerEnv } from './app.js';

await runService('worker', async () => {
  const config = parseConfig(workerEnv);
  // The worker logs Redis faults itself, once per failure streak; the client's own errors
  // (one per reconnection attempt) would only repeat them.
  const store = redisStore({ url: config.REDIS_URL, onError: () => {}, onFatal: (err) => stopOnFailure('worker', err) });
  const service = buildWorker(config, store);
  // Exit 1 when some units were not saved (or may not have been).
  exitOnSignals(async () => {
    const { notSaved, unknown } = await service.stop();
    return notSaved + unknown > 0 ? 1 : 0;
  }, service.app.log);
  await listen(service.app, config.PORT, config.HOST);
  service.worker.start();
});
