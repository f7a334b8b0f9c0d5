// The HTTP ceiling: a bare node:http server doing the same work as rng and hasher with no
// framework, no logs and no metrics. GET answers 32 random bytes, POST the sha256 hex of the body.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(randomBytes(32));
    return;
  }
  const hash = createHash('sha256');
  request.on('data', (chunk: Buffer) => hash.update(chunk));
  request.on('end', () => response.writeHead(200, { 'content-type': 'text/plain;charset=utf-8' }).end(hash.digest('hex')));
});
// Kept-alive connections never time out: the bench stops the bare loop's workers (SIGSTOP) while
// the other modes warm up, for minutes, and the loop has no error handling for a connection
// closed under it (with fastify's 72 s, every bare worker died after the longer warm-ups).
server.keepAliveTimeout = 0;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
