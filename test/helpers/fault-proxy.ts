// A TCP proxy in front of one server that does to the next request whatever fault it is armed
// with: drop the connection before the request reaches the server, after it does (its reply
// lost) or after the reply, or hold both directions for a while. It can also go down (every
// connection dropped, new ones refused) and come back.
import { once } from 'node:events';
import net from 'node:net';
import type { TestContext } from 'node:test';

export type ConnectionFault = 'drop-before-request' | 'drop-after-request' | 'drop-after-reply' | 'stall';

interface Armed {
  fault: ConnectionFault;
  /** Requests (chunks written by a client) let through before the fault. */
  skip: number;
  stallMs: number;
  fired?: () => void;
}

export interface FaultProxy {
  port: number;
  /** The fault for a coming request; resolves when it has been done. */
  arm(fault: ConnectionFault, options: { skip: number; stallMs: number }): Promise<void>;
  /** Forgets the fault armed, if it has not been done. */
  disarm(): void;
  /** Drops every connection and refuses new ones until `up()`. */
  down(): void;
  up(): void;
  close(): Promise<void>;
}

export async function faultProxy(t: TestContext, port: number): Promise<FaultProxy> {
  let armed: Armed | undefined;
  let isDown = false;
  const pairs = new Set<() => void>();
  /** The armed fault, if this request is the one it waits for. */
  const take = (): Armed | undefined => {
    if (!armed) return undefined;
    if (armed.skip-- > 0) return undefined;
    const fault = armed;
    armed = undefined;
    fault.fired?.();
    return fault;
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    if (isDown) return drop();
    pairs.add(drop);
    relay(client, upstream, take, drop);
    for (const socket of [client, upstream]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        pairs.delete(drop);
        drop();
      });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dropAll = () => {
    for (const drop of [...pairs]) drop();
  };
  const proxy: FaultProxy = {
    port: (server.address() as net.AddressInfo).port,
    arm: (fault, { skip, stallMs }) => new Promise((resolve) => (armed = { fault, skip, stallMs, fired: resolve })),
    disarm() {
      armed?.fired?.();
      armed = undefined;
    },
    down() {
      isDown = true;
      proxy.disarm();
      dropAll();
    },
    up: () => void (isDown = false),
    async close() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      dropAll();
      await closed;
    },
  };
  t.after(() => proxy.close());
  return proxy;
}

/** Relays both ways between `client` and `upstream`, doing to a request the fault `take` gives for it. */
function relay(client: net.Socket, upstream: net.Socket, take: () => Armed | undefined, drop: () => void): void {
  let heldUntil = 0;
  let dropOnReply = false;
  let closeAfterReply = false;
  const queued = new Map<net.Socket, Buffer[]>([
    [client, []],
    [upstream, []],
  ]);
  /** Writes `chunk` to `to`, at once or, in order, when the stall is over. */
  const pass = (to: net.Socket, chunk: Buffer, then?: () => void) => {
    const queue = queued.get(to)!;
    queue.push(chunk);
    const wait = heldUntil - performance.now();
    const flush = () => {
      if (!to.destroyed) for (const c of queue) to.write(c);
      queue.length = 0;
      then?.();
    };
    if (wait <= 0) flush();
    else if (queue.length === 1) setTimeout(flush, wait);
  };
  client.on('data', (chunk: Buffer) => {
    const fault = take();
    if (fault?.fault === 'drop-before-request') return drop();
    if (fault?.fault === 'drop-after-request') dropOnReply = true;
    if (fault?.fault === 'drop-after-reply') closeAfterReply = true;
    if (fault?.fault === 'stall') heldUntil = performance.now() + fault.stallMs;
    pass(upstream, chunk);
  });
  upstream.on('data', (chunk: Buffer) => {
    if (dropOnReply) return drop();
    pass(client, chunk, closeAfterReply ? drop : undefined);
  });
}
