import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from './problem';

/** What POST /v1/artifacts reads; every other body is JSON. */
export const UPLOAD_CONTENT_TYPES = 'application/wasm (the .wasm as the body), or multipart/form-data with the .wasm in field "file"';
const JSON_CONTENT_TYPE = 'application/json';

const UPLOAD_ROUTE = 'POST /v1/artifacts';

function acceptedBy(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url}` === UPLOAD_ROUTE ? UPLOAD_CONTENT_TYPES : JSON_CONTENT_TYPE;
}

const hasBody = (request: FastifyRequest) => request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;

const mediaType = (request: FastifyRequest) => (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

/** 415 naming what the route does accept. */
export function unsupportedMediaType(request: FastifyRequest): ProblemError {
  const given = mediaType(request);
  return new ProblemError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    'Unsupported media type',
    `${given ? `Content-Type ${given} is` : 'a body without a Content-Type is'} not accepted here: send ${acceptedBy(request)}`,
  );
}

/**
 * Refuses, before the body is read, a body of a type the route does not read: the upload route takes
 * .wasm or a form, the others JSON. (Fastify would otherwise hand a form or text to a JSON route, whose
 * validation errors then name the wrong problem.)
 */
export function enforceContentTypes(fastify: FastifyInstance): void {
  fastify.addHook('preParsing', async (request) => {
    if (request.routeOptions.url === undefined || request.headers['content-type'] === undefined || !hasBody(request)) return;
    const type = mediaType(request);
    const accepted = acceptedBy(request) === UPLOAD_CONTENT_TYPES ? ['application/wasm', 'multipart/form-data'] : [JSON_CONTENT_TYPE];
    if (!accepted.includes(type)) throw unsupportedMediaType(request);
  });
}
