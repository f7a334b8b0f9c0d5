// The HTTP server every service is built on: JSON logs (a line per request at debug), /healthz,
// /readyz, /metrics, an X-Instance header naming the instance, one-line text errors, graceful close.
import Fastify, { LogController, type FastifyHttpOptions, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions, type onResponseHookHandler } from 'fastify';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import type { Registry } from 'prom-client';
import { describeError } from './errors.js';
import { fastPathServerFactory, type FastPath } from './fast-path.js';
import { batchedStdout, isoTime } from './log-output.js';
import { buildInfo, serviceMetrics, type BuildInfo, type Observe } from './service-metrics.js';
import { drain, DRAIN_MS, untilShutdown } from './shutdown.js';
import { REQUEST_TIMEOUT_MS, refuseClient, refuseConnect, refuseExpectation } from './refusals.js';

export interface ServerSettings {
  /** Service name: rng, hasher, worker, webui. */
  service: string;
  INSTANCE_NAME: string;
  LOG_LEVEL: string;
  /**
   * The service's first look at every request, before its body is read: it answers (a 404, a
   * 405) and returns the reply, or returns undefined to let the request go on. It runs in the
   * server's one onRequest hook: each hook is a cost on every request.
   */
  onRequest?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
  /** The service's busiest route answered without the framework (fast-path.ts). */
  fastPath?: FastPath;
  /**
   * Whether the service can do its job now, for /readyz: resolves if so, throws the reason if
   * not (worker and webui: Redis answers). Without it the service is ready until shutdown.
   */
  ready?: () => Promise<void>;
  /** Largest request body accepted, in bytes (413 above). */
  bodyLimit?: number;
  /** Extra fastify options (tests use them rarely). */
  fastify?: Partial<FastifyServerOptions>;
  /** What the process runs; by default the image's (see buildInfo). */
  build?: BuildInfo;
}

export interface Service {
  app: FastifyInstance;
  metrics: Registry;
  /** Shutdown has begun: /readyz answers 503 from now on (closing the app does it too). */
  notReady(): void;
  /**
   * Aborted when shutdown begins: what a request waits for (a delay, a Redis read) stops
   * waiting, so that every request in flight is answered before the connections close.
   */
  shutdown: AbortSignal;
}

export function createServer(settings: ServerSettings): Service {
  // Which version each task runs, during a rolling update above all: in the first log line and
  // in /metrics (serviceMetrics).
  const build = settings.build ?? buildInfo();
  const { metrics, observe } = serviceMetrics(settings, build);
  const accessLogged = accessLevels(settings.LOG_LEVEL);
  // Set once the app closes (preClose, below): every request then gets a one-line 503.
  let closing = false;
  const app = Fastify(fastifyOptions(settings, observe, () => !closing && !accessLogged.debug));

  // Once listening: a start that fails says so in one line on stderr, and nothing else.
  app.addHook('onListen', (done) => {
    app.log.info(build, `${settings.service} ${build.version}, revision ${build.revision}`);
    done();
  });
  app.server.on('checkExpectation', (request, response) => refuseExpectation(settings.INSTANCE_NAME, request, response));
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) => refuseConnect(app.log, settings.INSTANCE_NAME, request, socket));

  // Callback hooks, not async ones: they run on every request and a promise each costs.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-instance', settings.INSTANCE_NAME);
    if (closing) return void shuttingDown(reply);
    // RFC 9112, 3.2; HTTP/1.0 has no Host.
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') {
      return void oneLineError(reply, httpError(400, 'Bad Request: an HTTP/1.1 request needs a Host header'));
    }
    if (!settings.onRequest?.(request, reply)) done();
  });
  app.addHook('onResponse', accessLine(observe, accessLogged));

  app.setNotFoundHandler(notFound);
  app.setErrorHandler((error: HttpError, request, reply) => {
    if (!(error.statusCode && error.statusCode < 500)) request.log.error({ method: request.method, url: request.url, err: error }, 'request failed');
    return oneLineError(reply, error);
  });

  const shutdown = new AbortController();
  const notReady = () => shutdown.abort();
  app.addHook('preClose', async () => {
    notReady();
    closing = true;
    await drain(app.server, DRAIN_MS);
  });
  addHealthRoutes(app, metrics, settings.ready, shutdown.signal);

  return { app, metrics, notReady, shutdown: shutdown.signal };
}

/** Whether the access line is written at each of its two levels ('silent' has no value: never). */
function accessLevels(logLevel: string) {
  const logThreshold = pino.levels.values[logLevel] ?? Infinity;
  return { info: pino.levels.values.info! >= logThreshold, debug: pino.levels.values.debug! >= logThreshold };
}

/** `fastPathOpen`: whether the fast path may answer now. */
function fastifyOptions(settings: ServerSettings, observe: Observe, fastPathOpen: () => boolean): FastifyHttpOptions<Server> {
  const { fastPath } = settings;
  return {
    logger: {
      level: settings.LOG_LEVEL,
      base: { service: settings.service, instance: settings.INSTANCE_NAME },
      timestamp: isoTime,
      stream: batchedStdout(),
    },
    // We write the access-log line ourselves (fastify's default is two lines, at info).
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is the service's logger itself, not a pino child per request binding a reqId:
    // the child costs rng and hasher throughput (an A/B run, bench/README.md), and the two lines
    // we log per request name their method and URL.
    childLoggerFactory: (logger) => logger,
    bodyLimit: settings.bodyLimit ?? 1024 * 1024,
    // Keep-alive sockets must not hold a shutdown back.
    forceCloseConnections: true,
    // The onRequest hook answers 503 while closing, as one line of text (fastify's is JSON).
    return503OnClosing: false,
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: {
      // Node answers a request without one with an empty 400; the onRequest hook answers it.
      requireHostHeader: false,
      headersTimeout: REQUEST_TIMEOUT_MS,
      // Node compares both timeouts with the clock only this often (30 s by default, which let a
      // trickled request live far past them): a slow client is cut within half a second of them.
      connectionsCheckingInterval: 500,
    },
    // The request line's absolute form (`GET http://x/32`) is routed by its path: every check,
    // 404 and log line sees the same origin-form path as the router.
    rewriteUrl: (request) => originForm(request.url!),
    // Requests Node refuses before fastify sees them (malformed, headers too large, too slow).
    clientErrorHandler(this: FastifyInstance, error, socket) {
      refuseClient(this.log, settings.INSTANCE_NAME, error, socket);
    },
    // Errors raised before routing (a malformed URL, an over-long parameter) get the same
    // one-line text answer as every other error; the onRequest hook has not run: the header here.
    frameworkErrors: (error, _request, reply) => oneLineError(reply.header('x-instance', settings.INSTANCE_NAME), error),
    // The fast path never writes the access line: with it at debug, every request is fastify's.
    ...(fastPath && {
      serverFactory: fastPathServerFactory({ fastPath, open: fastPathOpen, instance: settings.INSTANCE_NAME, observe }),
    }),
    ...settings.fastify,
  };
}

/** The onResponse hook: counts the request and writes its access line. */
function accessLine(observe: Observe, accessLogged: ReturnType<typeof accessLevels>): onResponseHookHandler {
  return (request, reply, done) => {
    observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    // The access line: at debug for answers that went well, at info for refusals (4xx; 5xx are
    // also logged as errors with their cause). A line per request at info would fill Docker's
    // unrotated json-file log by ~250 MB a day per service at the workshop's pace, and costs
    // rng and hasher throughput (bench/README.md). Like podinfo's.
    const level = reply.statusCode >= 400 ? 'info' : 'debug';
    // Checked first: the line's fields (request.ip above all) cost even when pino drops it.
    if (accessLogged[level]) {
      request.log[level](
        {
          method: request.method,
          url: request.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          remote: request.ip,
        },
        'request',
      );
    }
    done();
  };
}

/**
 * Health answers at once: it never waits behind rng's one-at-a-time queue. It says the process
 * is alive; /readyz says whether it can do its job (podinfo's pair).
 */
function addHealthRoutes(app: FastifyInstance, metrics: Registry, ready: ServerSettings['ready'], shutdown: AbortSignal) {
  app.get('/healthz', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));
  app.get('/readyz', async (_request, reply) => {
    let reason: string | undefined;
    if (ready) await untilShutdown(ready(), shutdown).catch((err: unknown) => (reason = describeError(err)));
    if (shutdown.aborted) reason = 'shutting down';
    reply.type('text/plain; charset=utf-8');
    return reason ? reply.code(503).send(`not ready: ${reason}\n`) : reply.send('ready\n');
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
}

interface HttpError {
  statusCode?: number;
  message: string;
}

/** An error answered with `statusCode` and its message as the one-line text body. */
export function httpError(statusCode: number, message: string): Error & HttpError {
  return Object.assign(new Error(message), { statusCode });
}

function oneLineError(reply: FastifyReply, error: HttpError) {
  const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
  const message = status >= 500 && status !== 503 ? 'Internal Server Error' : error.message.split('\n')[0]!.slice(0, 200);
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

/** The answer to a request that arrives during shutdown, or that shutdown cut short. */
export function shuttingDown(reply: FastifyReply) {
  return oneLineError(reply, httpError(503, 'Service Unavailable: shutting down'));
}

/** `http://host/path?q` → `/path?q`, as the router sees it; an origin-form URL as it is. */
function originForm(url: string): string {
  if (url.charCodeAt(0) === 47 /* / */) return url;
  const match = /^https?:\/\/[^/?#]*/i.exec(url);
  if (!match) return url;
  const rest = url.slice(match[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The one 404 answer of every service, also used by hooks that refuse a path early. */
export function notFound(request: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).type('text/plain; charset=utf-8').send(`Not Found: ${request.method} ${request.url}\n`);
}

/** Where every service listens by default: both families (on Linux, `::` also accepts IPv4). */
const ANY_ADDRESS = '::';

/**
 * Listens, then logs the address. On `::` where the kernel has no IPv6 (EAFNOSUPPORT, or
 * EADDRNOTAVAIL when it is disabled), listens on 0.0.0.0 instead.
 */
export async function listen(app: FastifyInstance, port: number, host: string): Promise<string> {
  const options = { port, listenTextResolver: (address: string) => `listening on ${address}` };
  try {
    return await app.listen({ ...options, host });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (host !== ANY_ADDRESS || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
    app.log.warn(`no IPv6 here (${code} on ::): listening on IPv4 only`);
    return app.listen({ ...options, host: '0.0.0.0' });
  }
}

/**
 * For a synchronous route handler: answers now if `value` is ready, else once it is. Ready, no
 * promise is made (one per request costs rng and hasher rate at delay 0: bench/README.md), and the
 * handler gets undefined to return: fastify would send a returned reply a second time.
 */
export function answerWhenReady<T>(value: T | Promise<T>, answer: (value: T) => unknown): Promise<unknown> | undefined {
  if (value instanceof Promise) return value.then(answer);
  answer(value);
  return undefined;
}
