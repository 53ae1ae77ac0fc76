import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from './problem';

/** What POST /v1/artifacts reads; every other body is JSON. */
export const UPLOAD_CONTENT_TYPES = 'application/wasm (the .wasm as the body), or multipart/form-data with the .wasm in field "file"';
/** What POST /v1/builds reads. */
export const BUILD_CONTENT_TYPES =
  'application/json (a git source), application/gzip or application/zip (the source archive as the body), or multipart/form-data with the archive in field "source"';
/** Media types a source archive may be sent as. */
export const SOURCE_ARCHIVE_MEDIA_TYPES = ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip', 'application/zip', 'application/x-zip-compressed'];
const JSON_CONTENT_TYPE = 'application/json';

/** Routes that read something else than JSON: what they accept, in words and as media types. */
const ROUTES: Record<string, { words: string; types: string[] }> = {
  'POST /v1/artifacts': { words: UPLOAD_CONTENT_TYPES, types: ['application/wasm', 'multipart/form-data'] },
  'POST /v1/builds': { words: BUILD_CONTENT_TYPES, types: [JSON_CONTENT_TYPE, ...SOURCE_ARCHIVE_MEDIA_TYPES, 'multipart/form-data'] },
};
const JSON_ONLY = { words: JSON_CONTENT_TYPE, types: [JSON_CONTENT_TYPE] };

const accepted = (request: FastifyRequest) => ROUTES[`${request.method} ${request.routeOptions.url}`] ?? JSON_ONLY;

function acceptedBy(request: FastifyRequest): string {
  return accepted(request).words;
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
 * .wasm or a form, the build route JSON, an archive or a form, the others JSON. (Fastify would otherwise hand a form or text to a JSON route, whose
 * validation errors then name the wrong problem.)
 */
export function enforceContentTypes(fastify: FastifyInstance): void {
  fastify.addHook('preParsing', async (request) => {
    if (request.routeOptions.url === undefined || request.headers['content-type'] === undefined || !hasBody(request)) return;
    if (!accepted(request).types.includes(mediaType(request))) throw unsupportedMediaType(request);
  });
}
