// In-process services on free ports, for tests that need real HTTP but not a separate process.
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/lib/config.js';
import { listen } from '../../src/lib/server.js';
import { buildHasher, hasherEnv } from '../../src/hasher/app.js';
import { buildRng, rngEnv } from '../../src/rng/app.js';

const quiet = { LOG_LEVEL: 'silent', HOST: '127.0.0.1' };

export async function rngOn(t: TestContext, env: Record<string, string> = {}, host = '127.0.0.1', port = 0) {
  const { app, metrics } = buildRng(parseConfig(rngEnv, { ...quiet, ...env }));
  const address = await listen(app, port, host);
  t.after(() => app.close());
  return { app, metrics, url: address };
}

export async function hasherOn(t: TestContext, env: Record<string, string> = {}) {
  const { app, metrics } = buildHasher(parseConfig(hasherEnv, { ...quiet, ...env }));
  const address = await listen(app, 0, '127.0.0.1');
  t.after(() => app.close());
  return { app, metrics, url: address };
}
