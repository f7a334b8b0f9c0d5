// The page's one data endpoint, GET /events: Server-Sent Events. Why not polling: the data
// changes on the server's clock (one sample every 500 ms), so pushing each sample once,
// serialized once for every open page, costs one write per page; polling costs a request,
// a response and its headers per page per interval, and lags by up to an interval. SSE is
// plain HTTP (works through proxies that pass streaming responses), and the browser's
// EventSource reconnects by itself after a webui restart.
import { PassThrough } from 'node:stream';

/** A client that stops reading is dropped beyond this much unsent data (it reconnects). */
const MAX_BACKLOG_BYTES = 1024 * 1024;

/** One SSE message. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class EventStream {
  private readonly clients = new Set<PassThrough>();

  get size(): number {
    return this.clients.size;
  }

  /** A new client's stream, starting with `first`; it leaves the set when it closes. */
  open(first: string): PassThrough {
    const client = new PassThrough();
    // Tells EventSource how soon to reconnect after the stream drops.
    client.write(`retry: 1000\n\n${first}`);
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    return client;
  }

  broadcast(event: string, data: unknown): void {
    const frame = sseFrame(event, data);
    for (const client of this.clients) {
      if (client.writableLength > MAX_BACKLOG_BYTES) client.destroy();
      else client.write(frame);
    }
  }

  close(): void {
    for (const client of this.clients) client.end();
  }
}
