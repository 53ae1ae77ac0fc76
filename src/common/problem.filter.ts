import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { unsupportedMediaType } from './content-types';
import { PROBLEM_CONTENT_TYPE, ProblemError } from './problem';

/** Stable codes for the HTTP-level errors raised by Nest and Fastify themselves. */
const CODES_BY_STATUS: Record<number, [string, string]> = {
  400: ['BAD_REQUEST', 'The request is malformed'],
  401: ['UNAUTHORIZED', 'Authentication is required'],
  403: ['FORBIDDEN', 'Not allowed'],
  404: ['NOT_FOUND', 'No such resource'],
  405: ['METHOD_NOT_ALLOWED', 'Method not allowed'],
  406: ['NOT_ACCEPTABLE', 'Not acceptable'],
  409: ['CONFLICT', 'Conflict'],
  413: ['PAYLOAD_TOO_LARGE', 'The request body is too large'],
  415: ['UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type'],
  422: ['UNPROCESSABLE', 'The request cannot be processed'],
  429: ['TOO_MANY_REQUESTS', 'Too many requests'],
  503: ['SERVICE_UNAVAILABLE', 'The service is unavailable'],
};

/** Fastify's own error codes (body parsing, limits) mapped to ours. */
const FASTIFY_CODES: Record<string, [number, string, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported media type'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'The request body is too large'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'MALFORMED_JSON', 'The JSON body is empty'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'MALFORMED_JSON', 'The JSON body cannot be parsed'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BAD_REQUEST', 'Content-Length does not match the body'],
};

/** Turns every error into an RFC 9457 problem document. Unexpected errors never leak their message. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  const fastifyCode = (error as { code?: unknown })?.code;
  if (typeof fastifyCode === 'string' && FASTIFY_CODES[fastifyCode]) {
    const [status, code, title] = FASTIFY_CODES[fastifyCode];
    return new ProblemError(status, code, title, (error as Error).message);
  }
  if ((error as SyntaxError)?.name === 'SyntaxError' && (error as { statusCode?: number }).statusCode === 400) {
    return new ProblemError(400, 'MALFORMED_JSON', 'The JSON body cannot be parsed', (error as Error).message);
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    // Nest re-wraps Fastify's body-parser errors as plain HttpExceptions, dropping their code; the
    // JSON ones are known by Fastify's (stable) messages.
    if (status === 400 && /^Body (is not valid JSON|cannot be empty)/.test(error.message)) {
      return new ProblemError(400, 'MALFORMED_JSON', 'The JSON body cannot be parsed', error.message);
    }
    const [code, title] = CODES_BY_STATUS[status] ?? [`HTTP_${status}`, HttpStatus[status] ?? 'Error'];
    const response = error.getResponse();
    // A failed health check (terminus) carries the state of each dependency: keep it in the problem.
    if (typeof response === 'object' && response && 'details' in response) {
      const { info, error: down, details } = response as Record<string, unknown>;
      const failing = Object.keys((down as object) ?? {}).join(', ');
      return new ProblemError(status, 'NOT_READY', 'The service is not ready', `unavailable: ${failing}`, { info, error: down, details });
    }
    const message = typeof response === 'object' && response && 'message' in response ? (response as { message: unknown }).message : error.message;
    return new ProblemError(status, code, title, Array.isArray(message) ? message.join('; ') : String(message));
  }
  const statusCode = (error as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const [code, title] = CODES_BY_STATUS[statusCode] ?? [`HTTP_${statusCode}`, 'Error'];
    return new ProblemError(statusCode, code, title, (error as Error).message);
  }
  return new ProblemError(500, 'INTERNAL_ERROR', 'Internal server error', 'An unexpected error occurred; quote the requestId when reporting it');
}

/** Turns an error of a layer below the edge into its HTTP problem, or leaves it (undefined). */
export type ProblemMapper = (error: unknown) => ProblemError | undefined;

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  /**
   * `mappers`: how the layers' own errors read as problems (given by the application, which knows them
   * all); `bodyLimitBytes`: the JSON body limit, named when a body exceeds it.
   */
  constructor(
    private readonly mappers: readonly ProblemMapper[] = [],
    private readonly bodyLimitBytes?: number,
  ) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    let problem = this.mappers.reduce<ProblemError | undefined>((found, map) => found ?? map(error), undefined) ?? toProblem(error);
    // Fastify's own 415 names only what was sent; ours also names what the route accepts.
    if (problem.code === 'UNSUPPORTED_MEDIA_TYPE' && !(error instanceof ProblemError) && request.routeOptions) problem = unsupportedMediaType(request);
    // Likewise its 413 for a JSON body ("Request body is too large"): ours names the limit and where large files go.
    if (
      problem.code === 'PAYLOAD_TOO_LARGE' &&
      !(error instanceof ProblemError) &&
      this.bodyLimitBytes !== undefined &&
      /json/i.test(String(request.headers?.['content-type'] ?? ''))
    ) {
      problem = new ProblemError(
        413,
        'PAYLOAD_TOO_LARGE',
        'The request body is too large',
        `a JSON body may have at most ${this.bodyLimitBytes} bytes (HTTP_BODY_LIMIT_BYTES); .wasm uploads go to POST /v1/artifacts (MAX_UPLOAD_BYTES)`,
      );
    }
    if (problem.status >= 500 && problem.code === 'INTERNAL_ERROR') {
      this.logger.error({ err: error, requestId: request.id }, 'unhandled error');
    }
    if (reply.sent) return;
    void reply.status(problem.status);
    for (const [name, value] of Object.entries(problem.headers)) void reply.header(name, value);
    void reply.header('content-type', PROBLEM_CONTENT_TYPE).send(problem.toDocument(request.url, String(request.id)));
  }
}
