// The addresses a dependency's calls go to: every address its names resolve to, of either family,
// in turn (src/worker/upstream.ts says why), re-resolved every second to follow scaling.
//
// An address that cannot be connected (refused, EADDRNOTAVAIL where a family is disabled, no
// route, a connect that never completes) is set aside while another address works: the call
// goes on to the next address (nothing was sent, so nothing is repeated), the address is said
// once, and is tried again in the background by a bare connect, at growing intervals, until it
// connects; no call waits for it. When every address is set aside, calls go to them in turn and
// fail, for the worker to say once and back off.
import { lookup } from 'node:dns/promises';
import type http from 'node:http';
import { connect, isIPv6 } from 'node:net';
import { urlHost } from '../lib/address.js';
import { describeError } from '../lib/errors.js';

export type Resolver = (hostname: string) => Promise<string[]>;

/** Where an address's lines go (the worker's logger). */
export interface AddressLog {
  warn(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
}

/** An address set aside is connected again after this long, doubled after each failure up to maxMs. */
const RETRY = { firstMs: 1000, maxMs: 30_000 };

export interface Target {
  origin: string; // http://address:port
  hostPort: string; // address:port, without the protocol's default port
  family: 4 | 6;
  protocol: 'http:' | 'https:';
  address: string;
  port: number;
  host: string; // Host header: the name as configured
  basePath: string;
  agent: http.Agent;
  /** Set while the address cannot be connected: since when, and its retry. */
  aside?: { since: number; said: boolean; retryMs: number; timer?: NodeJS.Timeout };
}

export interface TargetsOptions {
  /** Name used in lines: rng, hasher. */
  name: string;
  bases: URL[];
  agents: Record<Target['protocol'], http.Agent>;
  resolve?: Resolver;
  resolveEveryMs?: number;
  /** How long a retry's connect may take. */
  connectMs: number;
  log: AddressLog;
}

const systemResolver: Resolver = async (hostname) => (await lookup(hostname, { all: true })).map((a) => a.address);

/** Errors of a connection that never opened: nothing was sent on it. */
export const neverConnected = (err: unknown) => (err as { syscall?: string }).syscall === 'connect';

export class Targets {
  private list: Target[] = [];
  private byOrigin = new Map<string, Target>();
  private resolvedAt = -Infinity;
  private nextIndex = 0;
  private closed = false;
  private readonly resolver: Resolver;

  constructor(private readonly o: TargetsOptions) {
    this.resolver = o.resolve ?? systemResolver;
  }

  /** Whether the addresses resolved last are recent enough to use. */
  fresh(): boolean {
    return this.list.length > 0 && performance.now() - this.resolvedAt < (this.o.resolveEveryMs ?? 1000);
  }

  /** The next address in turn that is not set aside; when all are, the next one. */
  next(): Target {
    const n = this.list.length;
    for (let i = 0; i < n; i++) {
      const target = this.list[this.nextIndex++ % n]!;
      if (!target.aside) return target;
    }
    return this.list[this.nextIndex++ % n]!;
  }

  /**
   * `target` could not be connected: sets it aside (said once, when others work) and returns
   * the address to call instead, or undefined when none works.
   */
  cannotConnect(target: Target, err: unknown): Target | undefined {
    if (!target.aside) {
      target.aside = { since: performance.now(), said: false, retryMs: RETRY.firstMs };
      this.retryLater(target);
    }
    const other = this.next();
    if (other.aside) return undefined;
    if (!target.aside.said) {
      target.aside.said = true;
      // A family this node has no address of (EADDRNOTAVAIL: IPv6 disabled, say) is how the node
      // is, not a fault: said as information.
      const code = (err as { code?: string }).code;
      this.o.log[code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' ? 'info' : 'warn'](
        { dependency: this.o.name, address: target.origin },
        `${this.o.name} at ${target.origin}: ${describeError(err)}; calls go to its other addresses, and this one is tried again in the background`,
      );
    }
    return other;
  }

  /** `target` was connected: its calls resume. */
  connected(target: Target): void {
    const aside = target.aside;
    if (!aside) return;
    clearTimeout(aside.timer);
    target.aside = undefined;
    if (!aside.said) return;
    const seconds = ((performance.now() - aside.since) / 1000).toFixed(1);
    this.o.log.info({ dependency: this.o.name, address: target.origin }, `${this.o.name} at ${target.origin} connects again after ${seconds} s; calls go to it again`);
  }

  private retryLater(target: Target): void {
    const aside = target.aside!;
    aside.timer = setTimeout(() => {
      const socket = connect({ host: target.address, port: target.port, timeout: this.o.connectMs });
      socket.unref();
      const retried = (ok: boolean) => {
        socket.destroy();
        if (this.closed || target.aside !== aside || this.byOrigin.get(target.origin) !== target) return;
        if (ok) return this.connected(target);
        aside.retryMs = Math.min(aside.retryMs * 2, RETRY.maxMs);
        this.retryLater(target);
      };
      socket.once('connect', () => retried(true));
      socket.once('error', () => retried(false));
      socket.once('timeout', () => retried(false));
    }, aside.retryMs);
    aside.timer.unref();
  }

  /** Stops the retries. */
  close(): void {
    this.closed = true;
    for (const target of this.list) clearTimeout(target.aside?.timer);
  }

  async resolve(): Promise<void> {
    const lists = await Promise.all(this.o.bases.map((base) => this.resolveBase(base)));
    // Sorted so that every worker sees the same ring; each starts at its own place in it.
    const list = lists.flat().sort((a, b) => a.origin.localeCompare(b.origin));
    if (list.length === 0) throw new Error(`${this.o.bases.map((b) => b.hostname).join(', ')} resolved to no address`);
    const byOrigin = new Map(list.map((t) => [t.origin, t]));
    for (const [origin, gone] of this.byOrigin) if (!byOrigin.has(origin)) clearTimeout(gone.aside?.timer);
    this.list = list;
    this.byOrigin = byOrigin;
    if (this.resolvedAt === -Infinity) this.nextIndex = Math.floor(Math.random() * list.length);
    this.resolvedAt = performance.now();
  }

  /** The targets of one base URL; those known already are kept, with what is known of them. */
  private async resolveBase(base: URL): Promise<Target[]> {
    const port = base.port || (base.protocol === 'https:' ? '443' : '80');
    const hostname = base.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    try {
      addresses = await this.resolver(hostname);
    } catch (err) {
      throw new Error(`cannot resolve ${hostname}: ${describeError(err)}`, { cause: err });
    }
    return addresses.map((address) => {
      const origin = `${base.protocol}//${urlHost(address)}:${port}`;
      const known = this.byOrigin.get(origin);
      if (known) return known;
      const protocol = base.protocol as Target['protocol'];
      return {
        origin,
        hostPort: new URL(origin).host,
        family: isIPv6(address) ? 6 : 4,
        protocol,
        address,
        port: Number(port),
        host: base.host,
        basePath: base.pathname.replace(/\/$/, ''),
        agent: this.o.agents[protocol],
      };
    });
  }
}
