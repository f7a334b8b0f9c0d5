import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService } from '../lib/startup.js';
import { buildHasher, hasherEnv } from './app.js';

await runService('hasher', async () => {
  const config = parseConfig(hasherEnv);
  const { app } = buildHasher(config);
  exitOnSignals(() => app.close(), app.log);
  await listen(app, config.PORT, config.HOST);
});
