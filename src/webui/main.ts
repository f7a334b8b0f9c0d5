import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService } from '../lib/startup.js';
import { redisStore } from '../lib/store.js';
import { buildWebui, webuiEnv } from './app.js';

await runService('webui', async () => {
  const config = parseConfig(webuiEnv);
  const store = redisStore({ url: config.REDIS_URL, onError: () => {} });
  const { app } = buildWebui(config, store);
  exitOnSignals(() => app.close(), app.log);
  await listen(app, config.PORT, config.HOST);
});
