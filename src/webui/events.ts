// The page's one data endpoint, GET /events: Server-Sent Events. Why not polling: the data
// changes on the server's clock (one sample every 500 ms), so pushing each sample once,
// serialized once for every open page, costs one write per page; polling costs a request,
// a response and its headers per page per interval, and lags by up to an interval. SSE is
// plain HTTP (works through proxies that pass streaming responses), and the browser's
// EventSource reconnects by itself after a webui restart. A page gets the whole dashboard
// when it connects, then only the fields that changed (figures are rounded to what the page
// shows, so most do not change from one sample to the next).
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';

/** A client that stops reading is dropped beyond this much unsent data (it reconnects). */
const MAX_BACKLOG_BYTES = 1024 * 1024;

/** One SSE message. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The top-level fields of each object given that differ from the previous object's. */
export class Changes {
  private readonly last = new Map<string, string>();

  of(next: object): Record<string, unknown> {
    const changed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(next)) {
      const json = JSON.stringify(value);
      if (this.last.get(key) === json) continue;
      this.last.set(key, json);
      changed[key] = value;
    }
    return changed;
  }
}

export class EventStream {
  private readonly clients = new Set<PassThrough>();

  get size(): number {
    return this.clients.size;
  }

  /**
   * A new client's stream for `response`, starting with `first`. It lives exactly as long as the
   * response: a HEAD (whose body fastify discards without ending the stream), a client gone
   * before or during the stream, all leave the set when the response closes.
   */
  open(first: string, response: ServerResponse): PassThrough {
    const client = new PassThrough();
    // Tells EventSource how soon to reconnect after the stream drops.
    client.write(`retry: 1000\n\n${first}`);
    // A client already gone (the request abandoned before this ran) never joins.
    if (response.closed) return client.destroy();
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    response.once('close', () => client.destroy());
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
