import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_CONTENT_TYPE, ProblemError } from './problem';

/** How long a client may take: to send its headers, to pause within its body, to send the whole request. */
export interface RequestTimeouts {
  headersMs: number;
  bodyIdleMs: number;
  requestMs: number;
}

/**
 * Options of Node's HTTP server for the headers and whole-request limits. Node checks them every
 * `connectionsCheckingInterval`, so that is kept well below the smaller one.
 */
export function serverTimeoutOptions(timeouts: RequestTimeouts): { requestTimeout: number; http: { headersTimeout: number; connectionsCheckingInterval: number } } {
  return {
    requestTimeout: timeouts.requestMs,
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersMs / 4))) },
  };
}

const seconds = (ms: number) => `${ms / 1000} s`;

/**
 * Cuts a client whose body stalls: while a request's body is still arriving, the connection may stay
 * silent for at most `bodyIdleMs`, after which the client gets 408 and the connection is closed. The
 * handler's body stream then fails, so an upload in progress is cancelled (its registry session deleted,
 * no job created). Silence is read from the socket's byte count, polled: socket timeouts would also fire
 * while the service itself is slow to answer. A body the service has not read yet (backpressure) is the
 * service's delay, not the client's, and is left alone.
 */
export function limitBodyIdleTime(fastify: FastifyInstance, timeouts: RequestTimeouts): void {
  const pollMs = Math.max(25, Math.min(1000, Math.floor(timeouts.bodyIdleMs / 4)));
  fastify.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    const socket = raw.socket;
    if (raw.complete || !socket) return;
    let lastBytes = socket.bytesRead;
    let lastActivity = Date.now();
    const poll = setInterval(() => {
      if (raw.complete || raw.destroyed || socket.destroyed) return clearInterval(poll);
      if (socket.bytesRead !== lastBytes || raw.readableLength > 0) {
        lastBytes = socket.bytesRead;
        lastActivity = Date.now();
        return;
      }
      if (Date.now() - lastActivity < timeouts.bodyIdleMs) return;
      clearInterval(poll);
      cut();
    }, pollMs).unref();
    reply.raw.once('close', () => clearInterval(poll));

    const cut = () => {
      if (reply.sent || reply.raw.headersSent) {
        raw.destroy(Object.assign(new Error('the request body stopped arriving'), { code: 'ECONNRESET' }));
        socket.destroy();
        return;
      }
      const problem = new ProblemError(
        408,
        'REQUEST_TIMEOUT',
        'The request body stopped arriving',
        `no part of the request body arrived for ${seconds(timeouts.bodyIdleMs)} (HTTP_BODY_IDLE_TIMEOUT_MS); the request is abandoned and the connection closed`,
      );
      // The request stream must fail too: Node stops tracking a request once its response is sent, so
      // closing the socket alone would leave the handler waiting on the body forever.
      const abandoned = Object.assign(new Error('the request body stopped arriving'), { code: 'ECONNRESET' });
      reply.raw.once('finish', () => {
        raw.destroy(abandoned);
        socket.destroy();
      });
      void reply
        .status(408)
        .header('connection', 'close')
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .send(problem.toDocument(request.url, String(request.id)));
    };
  });
}

/**
 * Answers the errors Node's HTTP server raises before or around a request with a problem document, as
 * far as an answer is still possible, then closes the connection: the headers or whole-request time
 * limit (408), request line and headers too large (431), unreadable HTTP (400).
 */
export function clientErrorHandler(timeouts: RequestTimeouts) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    let problem: ProblemError;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      problem = inFlight
        ? new ProblemError(408, 'REQUEST_TIMEOUT', 'The request took too long', `the whole request must arrive within ${seconds(timeouts.requestMs)} (HTTP_REQUEST_TIMEOUT_MS)`)
        : new ProblemError(
            408,
            'REQUEST_TIMEOUT',
            'The request headers took too long',
            `the request line and headers must arrive within ${seconds(timeouts.headersMs)} (HTTP_HEADERS_TIMEOUT_MS)`,
          );
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      problem = new ProblemError(
        431,
        'HEADERS_TOO_LARGE',
        'The request line and headers are too large',
        'the request line and headers together may hold at most 16 KiB: send long data in the body (for POST /v1/artifacts, annotations as multipart form fields; at most 64 annotations)',
      );
    } else {
      problem = new ProblemError(400, 'BAD_REQUEST', 'The request is not valid HTTP', error.message);
    }
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify(problem.toDocument());
      socket.write(
        `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}
