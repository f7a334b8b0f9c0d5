import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService } from '../lib/startup.js';
import { redisStore } from '../lib/store.js';
import { buildWebui, webuiEnv } from './app.js';

await runService('webui', async () => {
  const config = parseConfig(webuiEnv);
  // A Redis slowed for a second or two by a busy node is not an outage: the page and /json wait
  // for it up to 3 s before saying Redis is unavailable (the worker keeps 1 s: it retries unseen).
  const store = redisStore({ url: config.REDIS_URL, deadlineMs: 3000, onError: () => {} });
  const { app } = buildWebui(config, store);
  exitOnSignals(() => app.close(), app.log);
  await listen(app, config.PORT, config.HOST);
});
