import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService, stopOnFailure } from '../lib/startup.js';
import { buildWebui, webuiEnv, webuiStore } from './app.js';

await runService('webui', async () => {
  const config = parseConfig(webuiEnv);
  const { app } = buildWebui(config, webuiStore(config.REDIS_URL, (err) => stopOnFailure('webui', err)));
  exitOnSignals(() => app.close(), app.log);
  await listen(app, config.PORT, config.HOST);
});
