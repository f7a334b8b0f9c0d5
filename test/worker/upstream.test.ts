import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { freePort } from '../../src/lib/redis-server.js';
import { randomBytes, sha256Hex } from '../../src/worker/answers.js';
import { CONNECTION_MODES, RECYCLE, Upstream, UpstreamError } from '../../src/worker/upstream.js';
import { waitFor } from '../helpers/processes.js';
import { tcpProxy } from '../helpers/proxy.js';
import { rngOn } from '../helpers/services.js';

/** Lines an Upstream says about its addresses: none in these tests, where every address works. */
const log = { warn: (_: object, msg: string) => assert.fail(msg), info: (_: object, msg: string) => assert.fail(msg) };

/** Three rng instances on one port of three loopback addresses, like three tasks behind one name. */
async function threeRngs(t: TestContext) {
  const port = await freePort();
  const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
  for (const [i, address] of addresses.entries()) {
    await rngOn(t, { RNG_DELAY_MS: '0', INSTANCE_NAME: `rng-${i + 1}` }, address, port);
  }
  return { port, addresses };
}

async function servedBy(upstream: Upstream, calls: number) {
  const counts: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const { instance, body } = await upstream.call('/32', { expect: randomBytes(32) });
    assert.equal(body.length, 32);
    counts[instance] = (counts[instance] ?? 0) + 1;
  }
  return counts;
}

describe('load spreading over rng replicas', () => {
  for (const connections of CONNECTION_MODES) {
    it(`one name resolving to 3 addresses (dnsrr): calls rotate over all of them (${connections})`, async (t) => {
      const { port, addresses } = await threeRngs(t);
      // What Docker's DNS answers for a dnsrr service; glibc would sort it and always pick the first.
      const upstream = new Upstream({
        log,
        name: 'rng',
        urls: `http://rng:${port}`,
        connections,
        timeoutMs: 2000,
        resolve: async (hostname) => (assert.equal(hostname, 'rng'), addresses),
      });
      t.after(() => upstream.close());
      assert.deepEqual(await servedBy(upstream, 30), { 'rng-1': 10, 'rng-2': 10, 'rng-3': 10 });
    });
  }

  it('an address list: calls rotate over every entry', async (t) => {
    const { port, addresses } = await threeRngs(t);
    const upstream = new Upstream({
        log,
      name: 'rng',
      urls: addresses.map((a) => `http://${a}:${port}`).join(','),
      connections: 'per-call',
      timeoutMs: 2000,
    });
    t.after(() => upstream.close());
    assert.deepEqual(await servedBy(upstream, 30), { 'rng-1': 10, 'rng-2': 10, 'rng-3': 10 });
  });

  it('follows scaling: addresses are resolved again after resolveEveryMs', async (t) => {
    const { port, addresses } = await threeRngs(t);
    let known = addresses.slice(0, 1);
    const upstream = new Upstream({
        log,
      name: 'rng',
      urls: `http://rng:${port}`,
      connections: 'per-call',
      timeoutMs: 2000,
      resolveEveryMs: 50,
      resolve: async () => known,
    });
    t.after(() => upstream.close());
    assert.deepEqual(await servedBy(upstream, 3), { 'rng-1': 3 });
    known = addresses;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(await servedBy(upstream, 30), { 'rng-1': 10, 'rng-2': 10, 'rng-3': 10 });
  });

  it('per-call opens a new connection for every call (so a Swarm VIP balances each one); keep-alive reuses one; balanced one per RECYCLE.calls', async (t) => {
    const connections: Record<string, number> = {};
    const calls = RECYCLE.calls * 3;
    for (const mode of CONNECTION_MODES) {
      let opened = 0;
      const server = createServer((_req, res) => res.end('x'.repeat(32)));
      server.on('connection', () => (opened += 1));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      t.after(() => server.close());
      const { port } = server.address() as { port: number };
      const upstream = new Upstream({ log, name: 'rng', urls: `http://127.0.0.1:${port}`, connections: mode, timeoutMs: 2000 });
      for (let i = 0; i < calls; i++) await upstream.call('/32', { expect: randomBytes(32) });
      await upstream.close();
      connections[mode] = opened;
    }
    assert.equal(connections['per-call'], calls);
    assert.ok(connections['keep-alive']! <= 2, `keep-alive opened ${connections['keep-alive']} connections for ${calls} calls`);
    // 3 by the count of calls; more only if RECYCLE.calls calls took longer than RECYCLE.ms.
    const balanced = connections.balanced!;
    assert.ok(balanced >= 3 && balanced <= calls / 10, `balanced opened ${balanced} connections for ${calls} calls`);
  });

  it('balanced, behind a balancer that picks a replica per connection (a VIP): 4 workers spread their calls evenly', async (t) => {
    const { port, addresses } = await threeRngs(t);
    const proxy = await tcpProxy(t, addresses.map((host) => ({ host, port })));
    const workers = Array.from({ length: 4 }, () => {
      const upstream = new Upstream({ log, name: 'rng', urls: `http://127.0.0.1:${proxy.port}`, connections: 'balanced', timeoutMs: 2000 });
      t.after(() => upstream.close());
      return upstream;
    });
    const started = performance.now();
    const counts: Record<string, number> = {};
    for (const worker of await Promise.all(workers.map((w) => servedBy(w, RECYCLE.calls * 6)))) {
      for (const [instance, n] of Object.entries(worker)) counts[instance] = (counts[instance] ?? 0) + n;
    }
    const fair = (workers.length * RECYCLE.calls * 6) / 3;
    t.diagnostic(`calls per replica: ${JSON.stringify(counts)} in ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual(Object.keys(counts).sort(), ['rng-1', 'rng-2', 'rng-3']);
    for (const [instance, n] of Object.entries(counts)) assert.ok(Math.abs(n - fair) <= fair * 0.2, `${instance}: ${n} calls, fair share ${fair}`);
  });

  it('an address that refuses is set aside, said once, tried again in the background, and called again once it listens', async (t) => {
    const port = await freePort();
    await rngOn(t, { RNG_DELAY_MS: '0', INSTANCE_NAME: 'rng-1' }, '127.0.0.2', port);
    const lines: string[] = [];
    const upstream = new Upstream({
      log: { warn: (_, msg) => lines.push(`warn: ${msg}`), info: (_, msg) => lines.push(`info: ${msg}`) },
      name: 'rng',
      urls: `http://rng:${port}`,
      connections: 'balanced',
      timeoutMs: 2000,
      resolve: async () => ['127.0.0.2', '127.0.0.3'],
    });
    t.after(() => upstream.close());
    assert.deepEqual(await servedBy(upstream, 20), { 'rng-1': 20 }, 'every call answered, by the address that works');
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, new RegExp(`^warn: rng at http://127\\.0\\.0\\.3:${port}: connect ECONNREFUSED .*; calls go to its other addresses`));
    await rngOn(t, { RNG_DELAY_MS: '0', INSTANCE_NAME: 'rng-2' }, '127.0.0.3', port);
    await waitFor('the address tried again', () => (lines.length > 1 ? true : undefined));
    assert.match(lines[1]!, new RegExp(`^info: rng at http://127\\.0\\.0\\.3:${port} connects again after [\\d.]+ s; calls go to it again$`));
    assert.deepEqual(await servedBy(upstream, 20), { 'rng-1': 10, 'rng-2': 10 });
  });

  it('a call has CALL_TIMEOUT_MS in all: an answer dripped a byte every 50 ms fails as timed out, by the clock of the process', async (t) => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 32 });
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close().closeAllConnections());
    const { port } = server.address() as { port: number };
    const upstream = new Upstream({ log, name: 'rng', urls: `http://127.0.0.1:${port}`, connections: 'keep-alive', timeoutMs: 500 });
    t.after(() => upstream.close());
    const started = performance.now();
    await assert.rejects(upstream.call('/32', { expect: randomBytes(32) }), /^Error: rng at http:\/\/127\.0\.0\.1:\d+\/32: timed out$/);
    t.diagnostic(`failed after ${Math.round(performance.now() - started)} ms (the drip alone takes 1600 ms)`);
  });

  it('a failure names the dependency, the address and the cause', async (t) => {
    const port = await freePort();
    const upstream = new Upstream({ log, name: 'hasher', urls: `http://127.0.0.1:${port}`, connections: 'per-call', timeoutMs: 500 });
    t.after(() => upstream.close());
    await assert.rejects(upstream.call('/', { expect: sha256Hex }), (err: Error & { dependency: string }) => {
      assert.equal(err.dependency, 'hasher');
      assert.match(err.message, new RegExp(`^hasher at http://127\\.0\\.0\\.1:${port}/: connect ECONNREFUSED`));
      return true;
    });
    const unresolvable = new Upstream({ log, name: 'rng', urls: 'http://no-such-host.invalid', connections: 'per-call', timeoutMs: 500 });
    await assert.rejects(unresolvable.call('/32', { expect: randomBytes(32) }), /^Error: rng: cannot resolve no-such-host\.invalid/);
    const noAddress = new Upstream({ log, name: 'rng', urls: 'http://rng:8080', connections: 'per-call', timeoutMs: 500, resolve: async () => [] });
    await assert.rejects(noAddress.call('/32', { expect: randomBytes(32) }), (err: Error & { dependency: string }) => {
      assert.equal(err.dependency, 'rng');
      assert.equal(err.message, 'rng: rng resolved to no address');
      return true;
    });
  });

  it("a failure keeps the system error code, a lookup's too: the worker tells a start from a fault by it", async (t) => {
    const port = await freePort();
    const refused = new Upstream({ log, name: 'rng', urls: `http://127.0.0.1:${port}`, connections: 'per-call', timeoutMs: 500 });
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND rng'), { code: 'ENOTFOUND' });
    const unresolved = new Upstream({ log, name: 'rng', urls: 'http://rng', connections: 'per-call', timeoutMs: 500, resolve: () => Promise.reject(notFound) });
    t.after(() => Promise.all([refused.close(), unresolved.close()]));
    const codeOf = (call: Promise<unknown>) => call.then(() => undefined, (err: unknown) => (err instanceof UpstreamError ? err.code : 'not an UpstreamError'));
    assert.equal(await codeOf(refused.call('/32', { expect: randomBytes(32) })), 'ECONNREFUSED');
    assert.equal(await codeOf(unresolved.call('/32', { expect: randomBytes(32) })), 'ENOTFOUND');
  });

  it('close() ends a call still waiting for its addresses; nothing is sent after', async (t) => {
    let requests = 0;
    const server = createServer((_request, response) => ((requests += 1), response.end(Buffer.alloc(32))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    let resolveAddresses: (addresses: string[]) => void = () => {};
    const port = (server.address() as { port: number }).port;
    const upstream = new Upstream({ log, name: 'rng', urls: `http://rng:${port}`, connections: 'per-call', timeoutMs: 60_000, resolve: () => new Promise((resolve) => (resolveAddresses = resolve)) });
    const call = upstream.call('/32', { expect: randomBytes(32) });
    await upstream.close();
    await assert.rejects(call, /closed/);
    resolveAddresses(['127.0.0.1']);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(requests, 0);
  });
});
