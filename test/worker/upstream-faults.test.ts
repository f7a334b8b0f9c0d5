// Generated upstream faults against the worker's own loop (issue 33): rng's answers (status
// lines, headers, framing, 1xx answers, extra bytes, early closes, each dripped or stalled at
// any point), and names resolving to a mix of working, refusing and blackholed addresses of
// both families. Invariants, by the worker's clock and lines:
// - every call ends within CALL_TIMEOUT_MS plus the event loop's lag;
// - nothing wrong is counted: hasher is given only bytes of a whole, right, timely rng answer;
// - one warning per failure streak (and per address set aside);
// - while one address works, once each bad address has been met, no call fails and the rate is
//   that of the working addresses alone.
// Seeded (FC_SEED to replay); the seed is printed on failure; each property bounded in time.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { freePort } from '../../src/lib/redis-server.js';
import { withinBudget } from '../helpers/budget.js';
import { waitFor } from '../helpers/processes.js';
import {
  blackhole,
  loopLag,
  recordingHasher,
  scripted,
  scriptedRng,
  TIMEOUT_MS,
  workerInProcess,
  type Answer,
  type CallSeen,
  type LoggedLine,
  type Scope,
} from '../helpers/upstream-faults.js';

/** A run's own clean-ups, done when it ends, pass or fail (a subtest would not fail the property). */
async function inScope(body: (scope: Scope) => Promise<void>) {
  const cleanups: (() => unknown)[] = [];
  try {
    await body({ after: (fn) => void cleanups.push(fn) });
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
/** Runs a property, printing its seed and counterexample when it fails. */
async function check<T>(name: string, property: fc.IAsyncProperty<T>, numRuns: number) {
  const result = await fc.check(property, { seed, numRuns, endOnFailure: true });
  if (result.failed) {
    const error = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
    assert.fail(`${name}: failed with seed ${seed} (FC_SEED=${seed} to replay) at run ${result.numRuns}: ${error}\n${fc.defaultReportMessage(result)}`);
  }
}

type Connections = 'balanced' | 'per-call' | 'keep-alive';
const connectionsArb = fc.constantFrom<Connections>('balanced', 'per-call', 'keep-alive');

/** Runs of failed calls, in order: the streaks the worker must say once each. */
const streaks = (calls: CallSeen[]) => calls.filter((c, i) => !c.ok && (i === 0 || calls[i - 1]!.ok)).length;
const rngWarnings = (lines: LoggedLine[]) => lines.filter((l) => l.level === 'warn' && l.fields.dependency === 'rng' && !l.fields.address);

const statusLine = fc.constantFrom('HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 204 No Content', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 500 Oops', 'HTTP/1.0 200 OK', 'HTTP/1.1 302 Found');
const contentType = fc.constantFrom('application/octet-stream', 'application/octet-stream', undefined, 'text/html');
const bodyLength = fc.constantFrom(32, 32, 32, 0, 31, 33, 200);
const framing = fc.constantFrom('length', 'length', 'chunked', 'none', 'wrong-length');
const informational = fc.array(fc.constantFrom('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n', 'HTTP/1.1 100 Continue\r\n\r\n'), { maxLength: 2 });
/** Pauses at any point: short, long (each within the call's time, not always together), or past it (a stall). */
const pauseMs = fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 100, max: TIMEOUT_MS - 100 }), fc.constant(TIMEOUT_MS + 100));
const cuts = fc.array(fc.record({ at: fc.nat({ max: 200 }), pauseMs }), { maxLength: 6 });
/** A drip: a piece of `step` bytes every `everyMs`, from the first byte to the last. */
const drip = fc.option(fc.record({ step: fc.integer({ min: 1, max: 24 }), everyMs: fc.integer({ min: 5, max: 150 }) }));

const answer: fc.Arbitrary<Answer> = fc
  .record({ statusLine, contentType, bodyLength, framing, informational, cuts, drip, extra: fc.boolean(), earlyClose: fc.option(fc.nat({ max: 150 })), fill: fc.integer({ min: 0x2a, max: 0x8d }) })
  .map((a) => {
    const body = Buffer.alloc(a.bodyLength, a.fill);
    const headers = [a.contentType ? `Content-Type: ${a.contentType}` : undefined];
    let raw = body;
    if (a.framing === 'length') headers.push(`Content-Length: ${body.length}`);
    if (a.framing === 'wrong-length') headers.push(`Content-Length: ${body.length + 8}`);
    if (a.framing === 'chunked') {
      headers.push('Transfer-Encoding: chunked');
      raw = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from(body.length ? '\r\n0\r\n\r\n' : '\r\n')]);
    }
    const extra = a.extra ? Buffer.from('HTTP/1.1 200 OK\r\ngarbage') : Buffer.alloc(0);
    const head = `${a.informational.join('')}${a.statusLine}\r\n${headers.filter(Boolean).join('\r\n')}\r\n\r\n`;
    /** Where the answer ends and the extra bytes begin. */
    const answerEnd = head.length + raw.length;
    raw = Buffer.concat([raw, extra]);
    const whole = Buffer.concat([Buffer.from(head, 'latin1'), raw]);
    const cutAt = a.earlyClose ?? undefined;
    const early = cutAt !== undefined && cutAt < whole.length;
    const sent = early ? whole.subarray(head.length, cutAt) : raw;
    const extraSent = early ? Math.max(0, cutAt - answerEnd) : extra.length;
    // Right: a 200, 32 bytes framed by a length or chunks (or the close), all sent; a close
    // within the extra bytes after it cuts no answer. HTTP/1.0 is right too: the original rng
    // (Werkzeug, single-threaded) answers in it.
    const right =
      a.statusLine.endsWith(' 200 OK') &&
      a.contentType !== 'text/html' &&
      a.bodyLength === 32 &&
      !(early && cutAt < answerEnd) &&
      (a.framing === 'length' || (a.framing === 'chunked' && body.length > 0) || (a.framing === 'none' && !a.extra));
    const close = early || a.framing === 'none' || a.framing === 'wrong-length' || a.extra || a.statusLine.startsWith('HTTP/1.0');
    const dripped = a.drip ? Array.from({ length: Math.ceil(whole.length / a.drip.step) }, (_, i) => ({ at: i * a.drip!.step, pauseMs: a.drip!.everyMs })) : [];
    return scripted(head, sent, [...a.cuts, ...dripped], { close, right, rightBody: body, extra: extraSent });
  });

describe('upstream faults, generated (fast-check; FC_SEED replays a run)', () => {
  it("rng's answers: each call ends within CALL_TIMEOUT_MS by the worker's clock, nothing wrong counted, one line per failure streak", { timeout: 120_000 }, async (t) => {
    const lag = loopLag(t);
    const started = performance.now();
    const budgeted = withinBudget(30_000, async (script: Answer[], connections: Connections) => {
      await inScope(async (run) => {
        const port = await freePort();
        const served = await scriptedRng(run, '127.0.0.1', port, script);
        const hasher = await recordingHasher(run);
        const w = workerInProcess(run, { rngUrl: `http://127.0.0.1:${port}`, hasherUrl: hasher.url, timeoutMs: TIMEOUT_MS, connections, workDelayMs: 0 });
        // Until every scripted answer is sent and a right one after them reached hasher.
        await waitFor('the script served and a right answer after it', () => (served.scripted === script.length && hasher.given.length > 0 && w.calls.at(-1)?.ok && w.calls.length > script.length ? true : undefined), 30_000);
        // The calls until now: the one in flight is abandoned by the stop, which the worker does not say.
        const calls = w.calls.slice();
        await w.stop();
        const late = calls.filter((c) => c.ms > TIMEOUT_MS + 50 + lag.maxMs);
        assert.deepEqual(late, [], `calls past ${TIMEOUT_MS} ms (+ 50 ms + the loop's lag, ${lag.maxMs.toFixed(0)} ms)`);
        assert.deepEqual(hasher.given.filter((hex) => !served.rightBodies.has(hex)), [], 'hasher was given bytes of a wrong answer');
        // The stop may abandon a unit whose hash had come.
        assert.ok(w.worker.unitsDone <= hasher.given.length && w.worker.unitsDone >= hasher.given.length - 1, 'a unit for each hash');
        assert.equal(rngWarnings(w.lines).length, streaks(calls), `one warning per streak: ${JSON.stringify(w.lines)}`);
      });
    });
    await check('answers', fc.asyncProperty(fc.array(answer, { minLength: 1, maxLength: 4 }), connectionsArb, budgeted.run), 200);
    t.diagnostic(`answers: ${budgeted.runs()} generated runs in ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${seed}`);
  });

  it('names resolving to working, refusing and blackholed addresses of both families: once each is met, no call fails and the rate is that of the working addresses alone', { timeout: 120_000 }, async (t) => {
    const started = performance.now();
    const role = fc.constantFrom('working', 'refusing', 'blackholed', 'absent');
    const roleSets = fc.tuple(role, role, role, role).filter((r) => r.includes('working') && r.some((x) => x === 'refusing' || x === 'blackholed'));
    const budgeted = withinBudget(30_000, async (roles: string[], connections: Connections) => {
      await inScope(async (run) => {
        const addresses = ['::1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
        const port = await freePort();
        const working: string[] = [];
        const bad: string[] = [];
        for (const [i, address] of addresses.entries()) {
          if (roles[i] === 'working') {
            working.push(address);
            await scriptedRng(run, address, port, []);
          }
          if (roles[i] === 'blackholed') await blackhole(run, address, port);
          if (roles[i] === 'refusing' || roles[i] === 'blackholed') bad.push(address);
        }
        const hasher = await recordingHasher(run);
        const common = { hasherUrl: hasher.url, timeoutMs: 2500, connections, workDelayMs: 20, rngUrl: `http://rng.test:${port}` };
        const mixed = workerInProcess(run, { ...common, resolve: async () => [...working, ...bad] });
        const alone = workerInProcess(run, { ...common, resolve: async () => working });
        const said = (address: string) => mixed.lines.filter((l) => l.level === 'warn' && String(l.fields.address).includes(address));
        // Two turns of the addresses: each bad one met. A call that meets blackholed addresses it
        // has not met before may spend its time connecting to them and fail: from here on, none may.
        await waitFor('two turns of the addresses', () => (mixed.calls.length >= 2 * addresses.length ? true : undefined), 15_000);
        const [c0, l0] = [mixed.calls.length, mixed.lines.length];
        const [m0, a0, t0] = [mixed.worker.unitsDone, alone.worker.unitsDone, performance.now()];
        // 20 units more, or three times that by the worker given only the working addresses.
        const window = () => mixed.worker.unitsDone - m0 >= 20 || alone.worker.unitsDone - a0 >= 60;
        await waitFor('20 units more (or 60 alone)', () => (window() ? true : undefined), 60_000);
        const seconds = (performance.now() - t0) / 1000;
        const [mixedRate, aloneRate] = [(mixed.worker.unitsDone - m0) / seconds, (alone.worker.unitsDone - a0) / seconds];
        // The calls until now: the one in flight is abandoned by the stop, which the worker does not say.
        const calls = mixed.calls.slice();
        await Promise.all([mixed.stop(), alone.stop()]);
        assert.deepEqual(calls.slice(c0).filter((c) => !c.ok), [], `no call failed: ${JSON.stringify(mixed.lines)}`);
        assert.deepEqual(rngWarnings(mixed.lines.slice(l0)), []);
        assert.equal(rngWarnings(mixed.lines).length, streaks(calls), `one warning per streak: ${JSON.stringify(mixed.lines)}`);
        assert.ok(Math.abs(mixedRate - aloneRate) <= aloneRate * 0.1, `${mixedRate.toFixed(1)} units/s with the bad addresses, ${aloneRate.toFixed(1)} without`);
        for (const address of bad) assert.equal(said(address).length, 1, `${address} said once: ${JSON.stringify(said(address))}`);
      });
    });
    await check('addresses', fc.asyncProperty(roleSets, connectionsArb, budgeted.run), 60);
    t.diagnostic(`addresses: ${budgeted.runs()} generated runs in ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${seed}`);
  });
});
