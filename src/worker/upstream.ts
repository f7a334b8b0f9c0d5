// How the worker reaches rng and hasher, and spreads its calls over all their replicas.
//
// Two things defeat spreading if left to defaults:
// - behind a Swarm VIP, IPVS balances per TCP connection, so a kept-alive connection pins a
//   worker to one replica: the original opened a new connection for every call;
// - with DNS round robin (endpoint_mode: dnsrr), glibc's getaddrinfo sorts the addresses, so
//   dns.lookup keeps returning the same first one.
// So each call goes to the next address, in turn, of every address the name resolves to
// (src/worker/targets.ts, which also sets aside the addresses that cannot be connected). By default
// (UPSTREAM_CONNECTIONS=balanced) connections are kept alive but each is replaced after
// RECYCLE.calls calls or RECYCLE.ms, so a balancer that picks a replica per connection keeps
// spreading a worker's calls, at close to keep-alive's speed (bench/README.md). per-call opens
// a connection for every call, like the original; keep-alive never replaces one: behind a VIP
// it pins each worker to one replica.
//
// The calls go through node:http, not undici: undici's parser is WebAssembly, which costs the
// idle worker memory for no gain in rate on this loop of one small call at a time (the
// pipeline's two clients and the worker's RSS: bench/README.md).
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { describeError, errorCode } from '../lib/errors.js';
import { Deadlines, type Expiring } from './deadlines.js';
import { neverConnected, Targets, type AddressLog, type Resolver, type Target } from './targets.js';

export const CONNECTION_MODES = ['balanced', 'per-call', 'keep-alive'] as const;
export type ConnectionMode = (typeof CONNECTION_MODES)[number];

/**
 * balanced: a kept-alive connection serves at most this many calls, for at most this long. The
 * time spreads the calls at the workshop's pace (a few calls a second); the count bounds them at
 * delay 0 (thousands a second), where a new connection every 100 calls cost the pipeline's rate.
 */
export const RECYCLE = { calls: 1000, ms: 1000 };

export interface UpstreamResponse {
  body: Buffer;
  /** The instance that answered (its X-Instance header), else the address called. */
  instance: string;
  ms: number;
}

export class UpstreamError extends Error {
  constructor(
    readonly dependency: string,
    message: string,
    /** The system error's code (ENOTFOUND, ECONNREFUSED...), when there was one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface UpstreamOptions {
  /** Name used in logs and metrics: rng, hasher. */
  name: string;
  /** One base URL or several separated by commas; each host may resolve to many addresses. */
  urls: string;
  connections: ConnectionMode;
  /** The longest a call may take, from its start to the end of its answer. */
  timeoutMs: number;
  /** Where an address that cannot be connected is said. */
  log: AddressLog;
  resolve?: Resolver;
  /** How long resolved addresses are reused. */
  resolveEveryMs?: number;
}

/** What a right answer is (src/worker/answers.ts has rng's and hasher's). */
export interface Expectation {
  /** The content type of a right answer, when the answer names one. */
  contentType?: string;
  /** The size of the largest right answer: reading stops past it and the call fails. */
  maxBytes: number;
  /** What is wrong with a whole answer of at most maxBytes (a phrase after "answered"), or undefined. */
  problem(body: Buffer): string | undefined;
}

interface CallInit {
  method?: 'GET' | 'POST';
  body?: Buffer;
  expect: Expectation;
}

/**
 * What is wrong with an answer (its status, type, size or content), or undefined when it is
 * right. `cutAt`: the bytes read when reading stopped, past the limit.
 */
function wrongAnswer(status: number, response: IncomingMessage, body: Buffer, cutAt: number | undefined, expect: Expectation) {
  if (status !== 200) return `${status}: ${body.toString('utf8').split('\n')[0]!.trim()}`;
  const type = response.headers['content-type'];
  if (expect.contentType && type && !type.startsWith(expect.contentType)) return `${type}, not ${expect.contentType}`;
  if (cutAt !== undefined) {
    const declared = Number(response.headers['content-length']);
    return `${declared >= cutAt ? declared : `more than ${expect.maxBytes}`} bytes, where ${expect.maxBytes} were expected`;
  }
  return expect.problem(body);
}

/** A call that waited longer than its timeout (describeError says "timed out"). */
class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export class Upstream {
  readonly name: string;
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };
  private readonly targets: Targets;
  private readonly deadlines: Deadlines;
  private closed?: Promise<void>;
  /** Calls answered, by the family of the address called. */
  readonly callsByFamily = { 4: 0, 6: 0 };

  constructor(private readonly options: UpstreamOptions) {
    this.name = options.name;
    // per-call: no keep-alive, so every call opens a connection and asks for it to be closed.
    // The agents' timeout is each connection's: node applies it to every request on it.
    const agentOptions = { keepAlive: options.connections !== 'per-call', timeout: options.timeoutMs };
    this.agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
    // Connecting has at most 2 s: past that, a call goes to another address (a lost SYN is sent
    // again after 1 s, which a shorter bound would take for an address that never connects).
    const connectMs = Math.min(options.timeoutMs, 2000);
    for (const agent of Object.values(this.agents)) timeConnecting(agent, connectMs, options.timeoutMs);
    if (options.connections === 'balanced') Object.values(this.agents).forEach(recycleConnections);
    const bases = options.urls.split(',').map((u) => new URL(u.trim()));
    this.targets = new Targets({ ...options, bases, agents: this.agents, connectMs });
    this.deadlines = new Deadlines(options.timeoutMs);
  }

  /** One call; its answer must be what `expect` describes, else the call fails (an UpstreamError). */
  call(path: string, init: CallInit): Promise<UpstreamResponse> {
    // Not async: an await more per call costs the worker at delay 0.
    return this.send(path, init, this.targets.fresh() ? undefined : this.targets.resolve());
  }

  /**
   * One request and its whole answer, within timeoutMs by this process's clock (Deadlines: no
   * timer per call), to the next address in turn, or the next after it when one cannot be
   * connected. Connecting also has its connection's own timer (timeConnecting), and a silence of
   * timeoutMs closes a connection (the agents' timeout). No AbortSignal and no timeout per
   * request (node then set the socket's timer up to three times a call): each cost the worker
   * CPU, and close() ends calls in flight by destroying their sockets. The answer is read no
   * further than a right one goes (a failure's, no further than its first line): a peer
   * answering megabytes costs one read, never a buffer of them.
   */
  private send(path: string, init: CallInit, resolving: Promise<void> | undefined) {
    const started = performance.now();
    return new Promise<UpstreamResponse>((resolve, failed) => {
      let target: Target | undefined;
      let request: ClientRequest | undefined;
      const expire = () => {
        const timedOut = new TimeoutError('timed out');
        // Still connecting after the call's whole time: an address that never connects.
        if (target && request?.socket?.connecting) this.targets.cannotConnect(target, timedOut);
        fail(timedOut);
      };
      const call: Expiring = { expiresAt: 0, expire, cancel: (err) => fail(err) };
      let settled = false;
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        this.deadlines.remove(call);
        const where = target ? ` at ${target.origin}${path}` : '';
        failed(new UpstreamError(this.name, `${this.name}${where}: ${describeError(err)}`, errorCode(err)));
        request?.destroy();
      };
      const answered = (response: UpstreamResponse) => {
        if (settled) return;
        // Past its deadline by this clock (the timer may not have fired yet): nothing from it counts.
        if (performance.now() > call.expiresAt) return fail(new TimeoutError('timed out'));
        settled = true;
        this.deadlines.remove(call);
        this.targets.connected(target!);
        this.callsByFamily[target!.family] += 1;
        resolve(response);
      };
      // Each attempt's events are its own: one that failed over is not heard from again.
      const attempt = (to: Target) => {
        target = to;
        const sent = this.request(to, path, init, started, answered, (err) => {
          if (sent !== request || settled) return;
          const other = neverConnected(err) ? this.targets.cannotConnect(to, err) : undefined;
          if (other) attempt(other);
          else fail(err);
        });
        request = sent;
      };
      if (this.closed) return fail(new Error('closed'));
      this.deadlines.add(call);
      if (!resolving) return attempt(this.targets.next());
      resolving.then(() => !settled && !this.closed && attempt(this.targets.next()), fail);
    });
  }

  /** Sends one request to `target`; its whole, right answer goes to `answered`, any failure to `failed`. */
  private request(
    target: Target,
    path: string,
    init: CallInit,
    started: number,
    answered: (response: UpstreamResponse) => void,
    failed: (err: unknown) => void,
  ): ClientRequest {
    const request = (target.protocol === 'https:' ? https : http).request(
      {
        protocol: target.protocol,
        host: target.address,
        port: target.port,
        path: target.basePath + path,
        method: init.method ?? 'GET',
        agent: target.agent,
        headers: init.body
          ? { host: target.host, 'content-type': 'application/octet-stream', 'content-length': init.body.length }
          : { host: target.host },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const limit = status === 200 ? init.expect.maxBytes : 200;
        const chunks: Buffer[] = [];
        let size = 0;
        const settle = (whole: boolean) => {
          const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          const problem = wrongAnswer(status, response, body.subarray(0, limit), whole ? undefined : size, init.expect);
          if (problem) return failed(new Error(`answered ${problem}`));
          const instance = response.headers['x-instance'];
          answered({ body, instance: typeof instance === 'string' ? instance : target.hostPort, ms: performance.now() - started });
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size <= limit) return;
          settle(false);
          request.destroy();
        });
        response.on('end', () => settle(true));
        response.on('error', failed);
      },
    );
    request.on('timeout', () => {
      // Connecting (the connection's connect timer) or silent: describeError says "timed out".
      // A connect that timed out is one that never opened, as a refused one.
      const timedOut = Object.assign(new TimeoutError('timed out'), request.socket?.connecting ? { syscall: 'connect' } : {});
      failed(timedOut);
      request.destroy(timedOut);
    });
    request.on('error', failed);
    request.end(init.body);
    return request;
  }

  /** Closes the connections; calls in flight fail at once. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.agents['http:'].destroy();
      this.agents['https:'].destroy();
      this.targets.close();
      this.deadlines.close();
      this.closed = Promise.resolve();
    }
    return this.closed;
  }
}

/** Makes a keep-alive agent close each connection once it has served RECYCLE.calls calls or RECYCLE.ms. */
function recycleConnections(agent: http.Agent): void {
  const served = new WeakMap<Duplex, { calls: number; since: number }>();
  // Typed void by @types/node, but node reads its answer: false closes the connection.
  const keepAlive = agent.keepSocketAlive.bind(agent) as unknown as (socket: Duplex) => boolean;
  agent.keepSocketAlive = (socket) => {
    const use = served.get(socket) ?? { calls: 0, since: performance.now() };
    use.calls += 1;
    served.set(socket, use);
    return use.calls < RECYCLE.calls && performance.now() - use.since < RECYCLE.ms && keepAlive(socket);
  };
}

/**
 * Makes the agent's connections time out connecting after `connectMs`, then after `idleMs` (the
 * agent's timeout) without a byte: set once per connection, not by each request.
 */
function timeConnecting(agent: http.Agent, connectMs: number, idleMs: number): void {
  const create = agent.createConnection.bind(agent);
  agent.createConnection = (options, onCreate) => {
    const socket = create({ ...options, timeout: connectMs }, onCreate) as Socket;
    socket.once('connect', () => socket.setTimeout(idleMs));
    return socket;
  };
}
