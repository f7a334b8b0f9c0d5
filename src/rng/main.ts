import { loadConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { buildRng, rngEnv } from './app.js';

const config = loadConfig('rng', rngEnv);
const { app } = buildRng(config);
exitOnSignals(() => app.close(), app.log);
await listen(app, config.PORT, config.HOST);
