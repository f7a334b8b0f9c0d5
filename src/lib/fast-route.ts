// A route written once, answered both on the fast path (fast-path.ts) and by fastify (inject,
// errors, debug logging, shutdown): only how its input is read differs between the two.
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { FastPath } from './fast-path.js';
import { answerWhenReady } from './server.js';

type Body = string | Buffer;

export interface FastRoute<Input> {
  method: 'GET' | 'POST';
  /** fastify's route, also the route the fast path's answers are counted under. */
  url: string;
  contentType: string;
  /** The input of a request fastify routed here; throws the HTTP error of a bad one. */
  fromFastify(request: FastifyRequest): Input;
  /**
   * The input on the fast path: returns false, having read nothing, to leave the request to
   * fastify (an error to answer, a form it reads itself), or true and calls `take` (now or later).
   */
  fromNode(request: IncomingMessage, take: (input: Input) => void): boolean;
  /** The 200's body, now or later (undefined: the client left, the answer goes nowhere). */
  answer(input: Input, request: IncomingMessage): Body | Promise<Body | undefined>;
}

/** The route's fast path, for createServer, and its fastify route, for `app.route`. */
export function fastRoute<Input>(route: FastRoute<Input>): { fastPath: FastPath; options: RouteOptions } {
  const { method, url, contentType } = route;
  return {
    fastPath: (request, send) =>
      request.method === method &&
      route.fromNode(request, (input) => answerWhenReady(route.answer(input, request), (body) => send(url, contentType, body))),
    options: {
      method,
      url,
      // Synchronous: a ready answer is sent without a promise (answerWhenReady).
      handler: (request, reply) =>
        answerWhenReady(route.answer(route.fromFastify(request), request.raw), (body) => reply.type(contentType).send(body)),
    },
  };
}
