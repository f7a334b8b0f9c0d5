// The parts of the upstream fault generator (test/worker/upstream-faults.test.ts): an rng that
// answers raw bytes as a script says (status line, headers, framing, 1xx answers, timing), a
// hasher that records the bytes it was given, an address that never completes a connect, and
// the worker itself, in this process, with its log lines and each call's outcome by its clock.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker as Thread } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import { Registry } from 'prom-client';
import { memoryStore } from '../../src/lib/memory-store.js';
import { Upstream, type ConnectionMode } from '../../src/worker/upstream.js';
import { Worker } from '../../src/worker/worker.js';

/** Where a part registers its clean-up: a test, or one generated run. */
export interface Scope {
  after(fn: () => unknown): void;
}

/** One answer of the scripted rng: the bytes, in pieces, each after its pause. */
export interface Answer {
  pieces: { pauseMs: number; bytes: Buffer }[];
  /** Closes the connection once sent (a close-delimited body, an early close, extra bytes). */
  close: boolean;
  /** A right answer, whole: 200, 32 bytes, no wrong content type. */
  right: boolean;
  /** The bytes sent when it is whole (extra bytes may follow). */
  wholeAt: number;
}

/** An rng at host:port that answers each request with the next scripted answer, then right ones. */
export async function scriptedRng(t: Scope, host: string, port: number, script: Answer[]) {
  const served = { scripted: 0, rightBodies: new Set<string>(), wrong: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    let busy = false;
    const next = async () => {
      const end = buffered.indexOf('\r\n\r\n');
      if (busy || end < 0) return;
      busy = true;
      buffered = buffered.slice(end + 4);
      const answer = script[served.scripted] ?? rightAnswer();
      if (served.scripted < script.length) served.scripted += 1;
      const started = performance.now();
      let sent = 0;
      // Right only if whole and sent within the call's time by this side's clock too (the
      // worker's call started before): once whole, the worker may close before extra bytes.
      let right = false;
      for (const { pauseMs, bytes } of answer.pieces) {
        if (pauseMs > 0) await delay(pauseMs);
        if (socket.destroyed) break;
        socket.write(bytes);
        sent += bytes.length;
        if (answer.right && !right && sent >= answer.wholeAt && performance.now() - started < TIMEOUT_MS) {
          right = true;
          served.rightBodies.add(bodyOf(answer));
        }
      }
      if (!right) served.wrong += 1;
      if (socket.destroyed) return;
      if (answer.close) return void socket.end();
      busy = false;
      void next();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      void next();
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return served;
}

/** The call timeout the generated runs use. */
export const TIMEOUT_MS = 600;

const bodies = new WeakMap<Answer, string>();
const bodyOf = (answer: Answer) => bodies.get(answer) ?? '';

/** A right answer sent at once, with its length. */
export function rightAnswer(): Answer {
  const body = Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256)));
  return scripted(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 32\r\n\r\n`, body, [], { close: false, right: true });
}

/**
 * An answer of `head` then `body`, cut into pieces at `cuts` (offset, pause before it). A right
 * one's decoded body is `rightBody`, whole after `extra` bytes less than all.
 */
export function scripted(
  head: string,
  body: Buffer,
  cuts: { at: number; pauseMs: number }[],
  { close, right, rightBody = body, extra = 0 }: { close: boolean; right: boolean; rightBody?: Buffer; extra?: number },
): Answer {
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), body]);
  const sorted = [...cuts].filter((c) => c.at > 0 && c.at < bytes.length).sort((a, b) => a.at - b.at);
  const pieces: Answer['pieces'] = [];
  let from = 0;
  let pauseMs = 0;
  for (const cut of sorted) {
    if (cut.at === from) {
      pauseMs += cut.pauseMs;
      continue;
    }
    pieces.push({ pauseMs, bytes: bytes.subarray(from, cut.at) });
    [from, pauseMs] = [cut.at, cut.pauseMs];
  }
  pieces.push({ pauseMs, bytes: bytes.subarray(from) });
  const answer: Answer = { pieces, close, right, wholeAt: bytes.length - extra };
  bodies.set(answer, rightBody.toString('hex'));
  return answer;
}

/** A hasher that answers right at once and records the bytes it was given (hex). */
export async function recordingHasher(t: Scope) {
  const given: string[] = [];
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const body = Buffer.concat(chunks);
      given.push(body.toString('hex'));
      response.writeHead(200, { 'content-type': 'text/plain' }).end(createHash('sha256').update(body).digest('hex'));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve).closeAllConnections()));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, given };
}

/**
 * host:port that takes no connection: a listener whose thread never accepts, its queue filled,
 * so that a connect to it is never answered (a blackholed address).
 */
export async function blackhole(t: Scope, host: string, port: number): Promise<void> {
  const thread = new Thread(
    `const net = require('node:net'); const { parentPort, workerData } = require('node:worker_threads');
     const server = net.createServer();
     server.listen({ host: workerData.host, port: workerData.port, backlog: 0 }, () => {
       parentPort.postMessage('listening');
       setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
     });`,
    { eval: true, workerData: { host, port } },
  );
  await once(thread, 'message');
  // The queue takes a connection or two before it is full: those are held until the end.
  const held: net.Socket[] = [];
  for (;;) {
    const socket = net.connect({ host, port, timeout: 200 });
    held.push(socket);
    const [event] = await Promise.race([once(socket, 'connect').then(() => ['connect']), once(socket, 'timeout').then(() => ['timeout'])]);
    if (event === 'timeout') break;
  }
  t.after(async () => {
    for (const socket of held) socket.destroy();
    await thread.terminate();
  });
}

export interface LoggedLine {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

/** A call as the worker's clock saw it. */
export interface CallSeen {
  ms: number;
  ok: boolean;
}

/** The worker's own loop in this process, on memory, with its lines and its rng calls recorded. */
export function workerInProcess(t: Scope, o: { rngUrl: string; hasherUrl: string; /** rng's resolver. */ resolve?: (name: string) => Promise<string[]>; timeoutMs: number; connections: ConnectionMode; workDelayMs: number }) {
  const lines: LoggedLine[] = [];
  const say = (level: LoggedLine['level']) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  const log = { info: say('info'), warn: say('warn'), error: say('error') } as unknown as FastifyBaseLogger;
  const upstream = (name: string, urls: string, resolve?: (name: string) => Promise<string[]>) =>
    new Upstream({ name, urls, connections: o.connections, timeoutMs: o.timeoutMs, log, resolve });
  // The resolver is rng's: hasher is reached by its address.
  const rng = upstream('rng', o.rngUrl, o.resolve);
  const hasher = upstream('hasher', o.hasherUrl);
  const calls: CallSeen[] = [];
  const call = rng.call.bind(rng);
  rng.call = (path, init) => {
    const started = performance.now();
    return call(path, init).then(
      (answer) => (calls.push({ ms: performance.now() - started, ok: true }), answer),
      (err: unknown) => {
        calls.push({ ms: performance.now() - started, ok: false });
        throw err;
      },
    );
  };
  const worker = new Worker({
    name: 'worker-under-test',
    rng,
    hasher,
    store: memoryStore(),
    log,
    metrics: new Registry(),
    workDelayMs: o.workDelayMs,
    flushEveryMs: 100_000,
    maxBackoffMs: 100,
  });
  worker.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await worker.stop(200);
  };
  t.after(stop);
  return { worker, lines, calls, stop };
}

/** The longest the event loop was late over a run: what a call's end may lag its deadline here. */
export function loopLag(t: Scope) {
  let maxMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    maxMs = Math.max(maxMs, now - last - 10);
    last = now;
  }, 10);
  t.after(() => clearInterval(timer));
  return { get maxMs() { return maxMs; } };
}
