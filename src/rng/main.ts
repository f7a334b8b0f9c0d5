import { parseConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { runService } from '../lib/startup.js';
import { buildRng, rngEnv } from './app.js';

await runService('rng', async () => {
  const config = parseConfig(rngEnv);
  const { app } = buildRng(config);
  exitOnSignals(() => app.close(), app.log);
  await listen(app, config.PORT, config.HOST);
});
