// The two requests rng and hasher answer thousands of times a second (GET /<n>, POST /) may be
// answered on bare node:http, before fastify sees them: its routing, hooks and reply cost these
// routes a third of bare node:http's rate (bench/README.md, "Profile"). Only a plain 200 is
// answered here; anything else (an error, a HEAD, shutdown, the debug access line) is fastify's.
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { FastifyServerOptions } from 'fastify';

/** Sends a 200 with `body`, counted in the latency histogram under `route` like fastify's answers. */
export type FastSend = (route: string, contentType: string, body: string | Buffer | undefined) => void;

/**
 * A service's fast path: answers `request` with `send` (now or later) and returns true, or
 * returns false, having read nothing, to leave the request to fastify.
 */
export type FastPath = (request: IncomingMessage, send: FastSend) => boolean;

interface FastPathServer {
  fastPath: FastPath;
  /** Whether the fast path may answer now (not while closing, nor when each request is logged). */
  open(): boolean;
  instance: string;
  observe(method: string, route: string, status: number, seconds: number): void;
}

/**
 * fastify's serverFactory: the node:http server fastify would make (the same timeouts), whose
 * requests go to the fast path first.
 */
export function fastPathServerFactory(server: FastPathServer): NonNullable<FastifyServerOptions['serverFactory']> {
  return (fastifyHandler, fastifyOptions) => {
    // fastify gives its own options, defaults filled in.
    const options = fastifyOptions as { http?: http.ServerOptions } & Required<Pick<FastifyServerOptions, 'keepAliveTimeout' | 'requestTimeout' | 'connectionTimeout' | 'maxRequestsPerSocket'>>;
    const listener: RequestListener = (request, response) => {
      // A request without Host is fastify's, which refuses it (server.ts).
      if (server.open() && request.headers.host !== undefined && server.fastPath(request, sender(server, request, response))) return;
      fastifyHandler(request, response);
    };
    const httpServer = http.createServer(options.http ?? {}, listener);
    httpServer.keepAliveTimeout = options.keepAliveTimeout;
    httpServer.requestTimeout = options.requestTimeout;
    httpServer.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket > 0) httpServer.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return httpServer;
  };
}

function sender(server: FastPathServer, request: IncomingMessage, response: ServerResponse): FastSend {
  const startedAt = performance.now();
  return (route, contentType, body = '') => {
    // The headers fastify's reply sends, in its order.
    response.writeHead(200, {
      'x-instance': server.instance,
      'content-type': contentType,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
    });
    response.end(body);
    server.observe(request.method!, route, 200, (performance.now() - startedAt) / 1000);
  };
}

/**
 * Reads a body of `length` bytes (its Content-Length), then calls `done` with it; a client that
 * leaves before the end gets nothing, as from fastify.
 */
export function readBody(request: IncomingMessage, length: number, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length)));
  // A reset connection: the socket is gone, there is nobody to answer.
  request.on('error', () => undefined);
}
