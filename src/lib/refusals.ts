// The answers to requests Node refuses before fastify routes them: malformed, headers too
// large, too slow, an unknown Expect. Node's and fastify's own are JSON or empty; these are
// the one line of text/plain that every other error of ours is.
import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';

/** Slowloris defence: a request's headers and body must arrive whole within this time. */
export const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The answer to a request Node's parser refused (fastify's default is JSON): the same one-line
 * text as every other error, then the connection is closed. Logged like other refusals.
 */
export function refuseClient(log: FastifyBaseLogger, instance: string, error: Error & { code?: string }, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, `the request did not arrive whole within ${REQUEST_TIMEOUT_MS / 1000} s`]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, `headers larger than ${maxHeaderSize / 1024} KB`]
        : [400, `malformed HTTP request (${error.code ?? error.message})`];
  log.info({ status, remote: socket.remoteAddress, error: error.code }, 'request refused');
  refuseOnSocket(socket, instance, status, reason);
  socket.destroy(error);
}

/**
 * The answer to a CONNECT (a proxy's method, whose authority-form target names no resource
 * here): Node, with no 'connect' listener, would close the connection without a word.
 */
export function refuseConnect(log: FastifyBaseLogger, instance: string, request: IncomingMessage, socket: Duplex) {
  log.info({ status: 400, method: request.method, url: request.url, remote: request.socket.remoteAddress }, 'request refused');
  refuseOnSocket(socket, instance, 400, 'CONNECT is a proxy\'s method; this is not a proxy');
  socket.destroy();
}

/** Writes the one-line text answer on the connection itself, unless an answer is already on its way. */
function refuseOnSocket(socket: Duplex, instance: string, status: number, reason: string) {
  const body = `${STATUS_CODES[status]}: ${reason}\n`;
  // Not in the middle of an answer already on its way (a body that trickles past the limit
  // is refused before any answer, so this is the rare case of a pipelined request).
  const answering = (socket as Duplex & { _httpMessage?: { headersSent: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !answering) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nx-instance: ${instance}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
}

/** Node's answer to an Expect header other than 100-continue is 417 with an empty body. */
export function refuseExpectation(instance: string, request: IncomingMessage, response: ServerResponse) {
  const body = `Expectation Failed: ${String(request.headers.expect).slice(0, 100)}\n`;
  response
    .writeHead(417, { 'x-instance': instance, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
    .end(body);
}
