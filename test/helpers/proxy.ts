// A TCP proxy in front of a server, that a test can close: the clients behind it then find the
// port closed (connections dropped and refused) while the server keeps its data. In front of
// several, it sends each new connection to the next in turn, as IPVS does for a Swarm VIP.
import { once } from 'node:events';
import net from 'node:net';
import type { TestContext } from 'node:test';

export interface TcpProxy {
  port: number;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

/** `targets`: a port on 127.0.0.1, or several servers taking connections in turn. */
export async function tcpProxy(t: TestContext, targets: number | { host: string; port: number }[]): Promise<TcpProxy> {
  const servers = typeof targets === 'number' ? [{ host: '127.0.0.1', port: targets }] : targets;
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(servers[next++ % servers.length]!);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const proxy: TcpProxy = {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  t.after(() => proxy.close());
  return proxy;
}
