// What the metrics chapter asks Prometheus (src/cli/lab/prometheus.ts), against a loopback
// server answering generated bodies: a query's series come back as Prometheus wrote them; a
// refusal is a Failure (the wait stops), any other answer (not JSON, JSON of another shape, any
// status) an Error (the wait tries again); each one line, never a crash. PROM_SEED=<n> replays a run.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { Command as CliCommand } from 'commander';
import fc from 'fast-check';
import { metricsScript } from '../../src/cli/lab/metrics-chapter.js';
import { labOptions, sharedOptions } from '../../src/cli/lab/options.js';
import type { Play } from '../../src/cli/lab/script.js';
import { query, scalar, targets } from '../../src/cli/lab/prometheus.js';
import { Failure } from '../../src/lib/wait.js';

const seed = Number(process.env.PROM_SEED ?? Date.now() % 2 ** 31);
const runs = { seed, numRuns: 200 };

/** The answer the server gives next, and the last path it was asked. */
let reply = { status: 200, body: '' };
let asked = '';
const server = createServer((request, response) => {
  asked = request.url ?? '';
  response.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
}).listen(0, '127.0.0.1');
await once(server, 'listening');
after(() => server.close());
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const labels = fc.dictionary(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,10}$/), fc.string({ maxLength: 12 }), { maxKeys: 4 }).map((d) => ({ ...d }));
const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }).map(String), fc.constantFrom('NaN', '+Inf', '-Inf', '0'));
const series = fc.array(fc.record({ metric: labels, value: fc.tuple(fc.double({ min: 0, max: 2e9, noNaN: true }), value) }), { maxLength: 5 });
const success = (result: unknown) => JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });

/** Anything but a vector answer: not JSON, other JSON, a good answer with a field gone or mistyped, a refusal. */
const badBody = fc.oneof(
  fc.string({ maxLength: 40 }).filter((s) => !isJson(s)),
  fc.json({ maxDepth: 3 }),
  series.filter((s) => s.length > 0).map((s) => success(s.map(({ metric }) => ({ metric })))),
  series.map((s) => JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: s } })),
  fc.record({ errorType: fc.string({ maxLength: 12 }), error: fc.array(fc.string({ maxLength: 12 }), { maxLength: 4 }).map((lines) => lines.join('\n')) }).map((e) => JSON.stringify({ status: 'error', ...e })),
);
const status = fc.constantFrom(200, 400, 422, 500, 503);

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

test(`a query's series come back with their labels and values, the query sent as written (seed ${seed})`, { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(series, fc.string({ minLength: 1, maxLength: 30 }), async (result, promql) => {
      reply = { status: 200, body: success(result) };
      const samples = await query(url, promql);
      assert.deepEqual(samples, result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) })));
      assert.equal(new URL(asked, url).searchParams.get('query'), promql);
    }),
    runs,
  );
});

test(`a refusal is a Failure, any other answer an Error, of one line; never a crash or a number made up (seed ${seed})`, { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(badBody, status, async (body, code) => {
      reply = { status: code, body };
      const outcome = await query(url, 'up').then(
        (samples) => ({ samples }),
        (err: unknown) => ({ err }),
      );
      // fc.json() may write a good answer by chance: then its series, as written.
      if ('samples' in outcome) return assert.deepEqual(outcome.samples, (JSON.parse(body) as { data: { result: { metric: object; value: [number, string] }[] } }).data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) })));
      const refusal = isJson(body) && (JSON.parse(body) as { status?: unknown } | null)?.status === 'error';
      assert.ok(outcome.err instanceof Error && outcome.err instanceof Failure === refusal, `${refusal ? 'a refusal' : 'not Prometheus\' JSON'}: ${String(outcome.err)}`);
      assert.match(outcome.err.message, refusal ? /^Prometheus refused \S+: .*$/ : /^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query\?\S+ answered \d+, not Prometheus' JSON$/);
      assert.doesNotMatch(outcome.err.message, /\n/);
    }),
    runs,
  );
});

test('scalar: one series is its number, none is undefined, more is a Failure; targets: job, health and error', async () => {
  reply = { status: 200, body: success([{ metric: {}, value: [1, '0.25'] }]) };
  assert.equal(await scalar(url, 'sum(up)'), 0.25);
  reply = { status: 200, body: success([]) };
  assert.equal(await scalar(url, 'sum(up)'), undefined);
  reply = { status: 200, body: success([{ metric: { job: 'a' }, value: [1, '1'] }, { metric: { job: 'b' }, value: [1, '1'] }]) };
  await assert.rejects(scalar(url, 'up'), (err: Error) => err instanceof Failure && err.message === 'up: 2 series, expected one');
  const target = (job: string, health: string, lastError: string) => ({ labels: { job, instance: 'x:80' }, health, lastError, scrapeUrl: 'http://x:80/metrics' });
  reply = { status: 200, body: JSON.stringify({ status: 'success', data: { activeTargets: [target('node', 'up', ''), target('rng', 'down', 'connection refused')], droppedTargets: [] } }) };
  assert.deepEqual(await targets(url), [
    { job: 'node', up: true, lastError: '' },
    { job: 'rng', up: false, lastError: 'connection refused' },
  ]);
  assert.equal(asked, '/api/v1/targets?state=active');
});

test("the bottleneck's ✓ only on rng saturated and queueing, not on a millisecond's noise between two calls", () => {
  const o = labOptions(sharedOptions(new CliCommand('lab')).parse([], { from: 'user' }).opts());
  const step = metricsScript(o).steps.find((s) => s.title === 'One step beyond: the bottleneck')!;
  const expect = step.actions.find((a) => a.do === 'expect')!;
  const verdict = (rngCallSeconds: number, rngQueueWaitSeconds: number, rngBusy: number) => () =>
    expect.do === 'expect' && expect.check({ figures: { rngCallSeconds, hasherCallSeconds: 0.104, rngCallsPerSecond: 29, hasherCallsPerSecond: 29, rngQueueWaitSeconds, rngBusy } } as unknown as Play);
  assert.doesNotThrow(verdict(0.134, 0.028, 0.97), 'as measured in lab all');
  assert.throws(verdict(0.105, 0.0001, 0.97), Failure, 'a queue wait of nothing');
  assert.throws(verdict(0.134, 0.028, 0.2), Failure, 'rng idle most of the time');
  assert.throws(verdict(0.1, 0.028, 0.97), Failure, 'calls to rng no longer than to hasher');
});
