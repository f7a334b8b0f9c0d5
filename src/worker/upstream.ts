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
// The calls go through node:http, not undici: undici's parser is WebAssembly, and it cost the
// idle worker about 12 MB of RSS (71 → 59 MB, npm run bench) for the same rate on this loop of
// one small call at a time.
import { lookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';
import { urlHost } from '../lib/address.js';
import { describeError } from '../lib/errors.js';

export const CONNECTION_MODES = ['balanced', 'per-call', 'keep-alive'] as const;
export type ConnectionMode = (typeof CONNECTION_MODES)[number];

/** balanced: a kept-alive connection serves at most this many calls, for at most this long. */
export const RECYCLE = { calls: 100, ms: 1000 };
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
  family: 4 | 6;
  protocol: 'http:' | 'https:';
  address: string;
  port: number;
  host: string; // Host header: the name as configured
  basePath: string;
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
    const keepAlive = options.connections !== 'per-call';
    this.agents = { 'http:': new http.Agent({ keepAlive }), 'https:': new https.Agent({ keepAlive }) };
    if (options.connections === 'balanced') Object.values(this.agents).forEach(recycleConnections);
  }

  async call(path: string, init: { method?: 'GET' | 'POST'; body?: Buffer } = {}): Promise<UpstreamResponse> {
    const targets = await this.currentTargets();
    const target = targets[this.nextIndex++ % targets.length]!;
    const started = performance.now();
    try {
      const res = await this.send(target, path, init);
      if (res.status !== 200) {
        throw new UpstreamError(this.name, `${this.name} answered ${res.status}: ${res.body.toString('utf8', 0, 200).trim()}`);
      }
      this.callsByFamily[target.family] += 1;
      const instance = res.headers['x-instance'];
      return {
        body: res.body,
        instance: typeof instance === 'string' ? instance : new URL(target.origin).host,
        ms: performance.now() - started,
      };
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError(this.name, `${this.name} at ${target.origin}${path}: ${describeError(err)}`);
    }
  }

  /**
   * One request and its whole answer. Timeouts: connecting at most 2 s (or timeoutMs if
   * shorter), then at most timeoutMs without a byte, like undici's connect, headers and body
   * timeouts. No AbortSignal per call: one cost the worker a fifth of its CPU (measured), and
   * close() ends calls in flight by destroying their sockets.
   */
  private send(target: Target, path: string, init: { method?: 'GET' | 'POST'; body?: Buffer }) {
    return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      if (this.closed) return reject(new Error('closed'));
      const client = target.protocol === 'https:' ? https : http;
      const request = client.request(
        {
          protocol: target.protocol,
          host: target.address,
          port: target.port,
          path: target.basePath + path,
          method: init.method ?? 'GET',
          agent: this.agents[target.protocol],
          headers: {
            host: target.host,
            ...(init.body ? { 'content-type': 'application/octet-stream', 'content-length': init.body.length } : {}),
          },
          timeout: Math.min(this.options.timeoutMs, 2000),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      request.on('socket', (socket) => {
        if (socket.connecting) socket.once('connect', () => request.setTimeout(this.options.timeoutMs));
        else request.setTimeout(this.options.timeoutMs);
      });
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

  private async currentTargets(): Promise<Target[]> {
    if (this.targets.length > 0 && performance.now() - this.resolvedAt < (this.options.resolveEveryMs ?? 1000)) {
      return this.targets;
    }
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
        return addresses.map((address) => ({
          origin: `${base.protocol}//${urlHost(address)}:${port}`,
          family: isIPv6(address) ? (6 as const) : (4 as const),
          protocol: base.protocol as Target['protocol'],
          address,
          port: Number(port),
          host: base.host,
          basePath: base.pathname.replace(/\/$/, ''),
        }));
      }),
    );
    // Sorted so that every worker sees the same ring; each starts at its own place in it.
    this.targets = lists.flat().sort((a, b) => a.origin.localeCompare(b.origin));
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
