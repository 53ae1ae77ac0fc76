import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** An open server-sent event stream: write events, know when the client left, end it. */
export interface EventStream {
  raw: ServerResponse;
  /** Whether the client has closed the connection. */
  readonly closed: boolean;
}

/**
 * Takes the response over for a text/event-stream: headers that keep proxies from buffering or caching
 * it, and the request id. The caller writes events to `raw` and ends it.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
  });
  let closed = false;
  request.raw.once('close', () => (closed = true));
  return {
    raw,
    get closed() {
      return closed;
    },
  };
}
