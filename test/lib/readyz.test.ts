// /readyz: 200 while the service can do its job, 503 with the reason otherwise and from the
// moment shutdown starts; /healthz stays 200 (liveness).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer } from '../../src/lib/server.js';

const settings = { INSTANCE_NAME: 'test-1', LOG_LEVEL: 'silent' };

describe('/readyz', () => {
  it('follows the ready check, then says 503 once shutdown has begun', async (t) => {
    let fault: Error | undefined;
    const service = createServer({ service: 'test', ...settings, ready: async () => { if (fault) throw fault; } });
    t.after(() => service.app.close());
    const readyz = async () => {
      const res = await service.app.inject('/readyz');
      return `${res.statusCode} ${res.body}`;
    };
    assert.equal(await readyz(), '200 ready\n');
    fault = new Error('no answer within 1000 ms');
    assert.equal(await readyz(), '503 not ready: no answer within 1000 ms\n');
    assert.equal((await service.app.inject('/healthz')).statusCode, 200, 'alive all the same');
    fault = undefined;
    assert.equal(await readyz(), '200 ready\n');
    service.notReady();
    assert.equal(await readyz(), '503 not ready: shutting down\n');
    assert.match((await service.app.inject('/readyz')).headers['content-type'] as string, /^text\/plain/);
  });

  it('without a check (rng, hasher): ready until shutdown', async (t) => {
    const service = createServer({ service: 'test', ...settings });
    t.after(() => service.app.close());
    assert.equal((await service.app.inject('/readyz')).statusCode, 200);
    service.notReady();
    assert.equal((await service.app.inject('/readyz')).statusCode, 503);
  });
});
