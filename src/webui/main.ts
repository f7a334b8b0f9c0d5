import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService, stopOnFailure } from '../lib/startup.js';
import { redisStore, WEBUI_STORE_DEADLINE_MS } from '../lib/store.js';
import { buildWebui, webuiEnv } from './app.js';

await runService('webui', async () => {
  const config = parseConfig(webuiEnv);
  const store = redisStore({ url: config.REDIS_URL, deadlineMs: WEBUI_STORE_DEADLINE_MS, onError: () => {}, onFatal: (err) => stopOnFailure('webui', err) });
  const { app } = buildWebui(config, store);
  exitOnSignals(() => app.close(), app.log);
  await listen(app, config.PORT, config.HOST);
});
