// How the worker reaches rng and hasher, and spreads its calls over all their replicas.
//
// Two things defeat spreading if left to defaults:
// - behind a Swarm VIP, IPVS balances per TCP connection, so a kept-alive connection pins a
//   worker to one replica: the original opened a new connection for every call;
// - with DNS round robin (endpoint_mode: dnsrr), glibc's getaddrinfo sorts the addresses, so
//   dns.lookup keeps returning the same first one.
// So each call goes to the next address, in turn, of every address the name resolves to, of
// either family (re-resolved every second, to follow scaling). By default
// (UPSTREAM_CONNECTIONS=balanced) connections are kept alive but each is replaced after
// RECYCLE.calls calls or RECYCLE.ms, so a balancer that picks a replica per connection keeps
// spreading a worker's calls, at close to keep-alive's speed (bench/README.md). per-call opens
// a connection for every call, like the original; keep-alive never replaces one: behind a VIP
// it pins each worker to one replica.
//
// The calls go through node:http, not undici: undici's parser is WebAssembly, which costs the
// idle worker memory for no gain in rate on this loop of one small call at a time (the
// pipeline's two clients and the worker's RSS: bench/README.md).
import { lookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIPv6, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { urlHost } from '../lib/address.js';
import { describeError } from '../lib/errors.js';

export const CONNECTION_MODES = ['balanced', 'per-call', 'keep-alive'] as const;
export type ConnectionMode = (typeof CONNECTION_MODES)[number];

/**
 * balanced: a kept-alive connection serves at most this many calls, for at most this long. The
 * time spreads the calls at the workshop's pace (a few calls a second); the count bounds them at
 * delay 0 (thousands a second), where a new connection every 100 calls cost the pipeline's rate.
 */
export const RECYCLE = { calls: 1000, ms: 1000 };
export type Resolver = (hostname: string) => Promise<string[]>;

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
  ) {
    super(message);
  }
}

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true })).map((a) => a.address);

export interface UpstreamOptions {
  /** Name used in logs and metrics: rng, hasher. */
  name: string;
  /** One base URL or several separated by commas; each host may resolve to many addresses. */
  urls: string;
  connections: ConnectionMode;
  timeoutMs: number;
  resolve?: Resolver;
  /** How long resolved addresses are reused. */
  resolveEveryMs?: number;
}

interface Target {
  origin: string; // http://address:port
  hostPort: string; // address:port, without the protocol's default port
  family: 4 | 6;
  protocol: 'http:' | 'https:';
  address: string;
  port: number;
  host: string; // Host header: the name as configured
  basePath: string;
  agent: http.Agent;
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
  private readonly bases: URL[];
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };
  private readonly resolve: Resolver;
  private targets: Target[] = [];
  private resolvedAt = -Infinity;
  private nextIndex = 0;
  private closed?: Promise<void>;
  /** Calls answered, by the family of the address called. */
  readonly callsByFamily = { 4: 0, 6: 0 };

  constructor(private readonly options: UpstreamOptions) {
    this.name = options.name;
    this.bases = options.urls.split(',').map((u) => new URL(u.trim()));
    this.resolve = options.resolve ?? systemResolver;
    // per-call: no keep-alive, so every call opens a connection and asks for it to be closed.
    // The agents' timeout is each connection's: node applies it to every request on it.
    const agentOptions = { keepAlive: options.connections !== 'per-call', timeout: options.timeoutMs };
    this.agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
    for (const agent of Object.values(this.agents)) timeConnecting(agent, Math.min(options.timeoutMs, 2000), options.timeoutMs);
    if (options.connections === 'balanced') Object.values(this.agents).forEach(recycleConnections);
  }

  /** One call; its answer must be what `expect` describes, else the call fails (an UpstreamError). */
  call(path: string, init: CallInit): Promise<UpstreamResponse> {
    // Not async: an await more per call costs the worker at delay 0.
    if (this.resolvedWithin()) return this.send(this.nextTarget(this.targets), path, init);
    return this.resolveTargets().then((targets) => this.send(this.nextTarget(targets), path, init));
  }

  /** The next address in turn. */
  private nextTarget(targets: Target[]): Target {
    return targets[this.nextIndex++ % targets.length]!;
  }

  /**
   * One request and its whole answer. Timeouts are the connections' own (timeConnecting, and
   * the agents' timeout): connecting at most 2 s (or timeoutMs if shorter), then at most
   * timeoutMs without a byte, like undici's connect, headers and body timeouts. No AbortSignal
   * and no timeout per request (node then set the socket's timer up to three times a call):
   * each cost the worker CPU, and close() ends calls in flight by destroying their sockets.
   * The answer is read no further than a right one goes (a failure's, no further than its
   * first line): a peer answering megabytes costs one read, never a buffer of them.
   */
  private send(target: Target, path: string, init: CallInit) {
    const started = performance.now();
    return new Promise<UpstreamResponse>((resolve, failed) => {
      const reject = (err: unknown) => failed(new UpstreamError(this.name, `${this.name} at ${target.origin}${path}: ${describeError(err)}`));
      if (this.closed) return reject(new Error('closed'));
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
          let settled = false;
          const settle = (whole: boolean) => {
            if (settled) return;
            settled = true;
            const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            const problem = wrongAnswer(status, response, body.subarray(0, limit), whole ? undefined : size, init.expect);
            if (problem) return reject(new Error(`answered ${problem}`));
            this.callsByFamily[target.family] += 1;
            const instance = response.headers['x-instance'];
            resolve({ body, instance: typeof instance === 'string' ? instance : target.hostPort, ms: performance.now() - started });
          };
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            size += chunk.length;
            if (size <= limit) return;
            settle(false);
            request.destroy();
          });
          response.on('end', () => settle(true));
          response.on('error', reject);
        },
      );
      request.on('timeout', () => {
        // Settled first: destroyed once the answer has begun, the response would report "aborted".
        // Connecting or waiting for the answer: describeError says "timed out" either way.
        const timedOut = new TimeoutError('timed out');
        reject(timedOut);
        request.destroy(timedOut);
      });
      request.on('error', reject);
      request.end(init.body);
    });
  }

  /** Closes the connections; calls in flight fail at once. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.agents['http:'].destroy();
      this.agents['https:'].destroy();
      this.closed = Promise.resolve();
    }
    return this.closed;
  }

  /** Whether the addresses resolved last are recent enough to use. */
  private resolvedWithin(): boolean {
    return this.targets.length > 0 && performance.now() - this.resolvedAt < (this.options.resolveEveryMs ?? 1000);
  }

  private async resolveTargets(): Promise<Target[]> {
    const lists = await Promise.all(
      this.bases.map(async (base) => {
        const port = base.port || (base.protocol === 'https:' ? '443' : '80');
        const hostname = base.hostname.replace(/^\[|\]$/g, '');
        let addresses: string[];
        try {
          addresses = await this.resolve(hostname);
        } catch (err) {
          throw new UpstreamError(this.name, `${this.name}: cannot resolve ${hostname}: ${describeError(err)}`);
        }
        return addresses.map((address) => {
          const origin = `${base.protocol}//${urlHost(address)}:${port}`;
          return {
            origin,
            hostPort: new URL(origin).host,
            family: isIPv6(address) ? (6 as const) : (4 as const),
            protocol: base.protocol as Target['protocol'],
            address,
            port: Number(port),
            host: base.host,
            basePath: base.pathname.replace(/\/$/, ''),
            agent: this.agents[base.protocol as Target['protocol']],
          };
        });
      }),
    );
    // Sorted so that every worker sees the same ring; each starts at its own place in it.
    const targets = lists.flat().sort((a, b) => a.origin.localeCompare(b.origin));
    if (targets.length === 0) throw new UpstreamError(this.name, `${this.name}: ${this.bases.map((b) => b.hostname).join(', ')} resolved to no address`);
    this.targets = targets;
    if (this.resolvedAt === -Infinity) this.nextIndex = Math.floor(Math.random() * this.targets.length);
    this.resolvedAt = performance.now();
    return this.targets;
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
