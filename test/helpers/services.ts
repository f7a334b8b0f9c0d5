// rng and hasher built in this process, closed when the test ends (fastify/demo's build(t)):
// as an app for inject(), or listening on a port for tests that need real HTTP.
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/lib/config.js';
import { listen } from '../../src/lib/server.js';
import { buildHasher, hasherEnv } from '../../src/hasher/app.js';
import { buildRng, rngEnv } from '../../src/rng/app.js';

const quiet = { LOG_LEVEL: 'silent', HOST: '127.0.0.1' };

export function rngApp(t: TestContext, env: Record<string, string> = {}) {
  const service = buildRng(parseConfig(rngEnv, { ...quiet, ...env }));
  t.after(() => service.app.close());
  return service;
}

export function hasherApp(t: TestContext, env: Record<string, string> = {}) {
  const service = buildHasher(parseConfig(hasherEnv, { ...quiet, ...env }));
  t.after(() => service.app.close());
  return service;
}

export async function rngOn(t: TestContext, env: Record<string, string> = {}, host = '127.0.0.1', port = 0) {
  const service = rngApp(t, env);
  return { ...service, url: await listen(service.app, port, host) };
}

export async function hasherOn(t: TestContext, env: Record<string, string> = {}) {
  const service = hasherApp(t, env);
  return { ...service, url: await listen(service.app, 0, '127.0.0.1') };
}
