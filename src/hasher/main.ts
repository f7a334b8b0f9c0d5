import { loadConfig } from '../lib/config.js';
import { listen } from '../lib/server.js';
import { exitOnSignals } from '../lib/signals.js';
import { buildHasher, hasherEnv } from './app.js';

const config = loadConfig('hasher', hasherEnv);
const { app } = buildHasher(config);
exitOnSignals(() => app.close(), app.log);
await listen(app, config.PORT, config.HOST);
