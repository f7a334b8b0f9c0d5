// A TCP proxy in front of a server, that a test can close: the clients behind it then find the
// port closed (connections dropped and refused) while the server keeps its data.
import { once } from 'node:events';
import net from 'node:net';
import type { TestContext } from 'node:test';

export interface TcpProxy {
  port: number;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

export async function tcpProxy(t: TestContext, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
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
