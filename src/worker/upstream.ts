// How the worker reaches rng and hasher, and spreads its calls over all their replicas.
//
// Two things defeat spreading if left to defaults:
// - behind a Swarm VIP, IPVS balances per TCP connection, so a kept-alive connection pins a
//   worker to one replica: the original opened a new connection for every call;
// - with DNS round robin (endpoint_mode: dnsrr), glibc's getaddrinfo sorts the addresses, so
//   dns.lookup keeps returning the same first one.
// So each call goes to the next address, in turn, of every address the name resolves to
// (re-resolved every second, to follow scaling), and by default on a fresh connection
// (UPSTREAM_CONNECTIONS=per-call). keep-alive reuses connections: faster, but behind a VIP
// it pins each worker to one replica.
import { lookup } from 'node:dns/promises';
import { Agent, request } from 'undici';
import { describeError } from '../lib/errors.js';

export type ConnectionMode = 'per-call' | 'keep-alive';
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
  host: string; // Host header: the name as configured
  basePath: string;
}

export class Upstream {
  readonly name: string;
  private readonly bases: URL[];
  private readonly agent: Agent;
  private readonly resolve: Resolver;
  private targets: Target[] = [];
  private resolvedAt = -Infinity;
  private nextIndex = 0;
  private closed?: Promise<void>;

  constructor(private readonly options: UpstreamOptions) {
    this.name = options.name;
    this.bases = options.urls.split(',').map((u) => new URL(u.trim()));
    this.resolve = options.resolve ?? systemResolver;
    this.agent = new Agent({
      connectTimeout: Math.min(options.timeoutMs, 2000),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** Every address currently known, in the order calls rotate through them. */
  async addresses(): Promise<string[]> {
    return (await this.currentTargets()).map((t) => t.origin);
  }

  async call(path: string, init: { method?: 'GET' | 'POST'; body?: Buffer } = {}): Promise<UpstreamResponse> {
    const targets = await this.currentTargets();
    const target = targets[this.nextIndex++ % targets.length]!;
    const started = performance.now();
    try {
      const res = await request(target.origin + target.basePath + path, {
        method: init.method ?? 'GET',
        body: init.body,
        headers: {
          host: target.host,
          ...(init.body ? { 'content-type': 'application/octet-stream' } : {}),
        },
        // No signal per call: the timeouts are the agent's (connect, headers, body), and close()
        // abandons calls in flight. Measured: an AbortSignal per call cost the worker a fifth of
        // its CPU, and on Node 20 AbortSignal.any() tied to a long-lived signal leaks.
        dispatcher: this.agent,
        reset: this.options.connections === 'per-call',
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) {
        throw new UpstreamError(this.name, `${this.name} answered ${res.statusCode}: ${body.toString('utf8', 0, 200).trim()}`);
      }
      const instance = res.headers['x-instance'];
      return {
        body,
        instance: typeof instance === 'string' ? instance : new URL(target.origin).host,
        ms: performance.now() - started,
      };
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      throw new UpstreamError(this.name, `${this.name} at ${target.origin}${path}: ${describeError(err)}`);
    }
  }

  /** Closes the connections; calls in flight fail at once. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.agent.destroy();
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
          origin: `${base.protocol}//${address.includes(':') ? `[${address}]` : address}:${port}`,
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
