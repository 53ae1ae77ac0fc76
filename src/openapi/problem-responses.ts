import type { OpenAPIObject } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE, ProblemError } from '../common/problem';

/** Titles of the problem documents by status, as the service answers them (the `title` is for people). */
const TITLES: Record<number, string> = {
  400: 'The request is not valid',
  401: 'Authentication is required',
  403: 'Not allowed',
  404: 'No such resource',
  408: 'The request took too long',
  409: 'Conflict',
  413: 'The request body is too large',
  415: 'Unsupported media type',
  422: 'The request cannot be processed',
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'A dependency answered wrongly',
  503: 'The service or a dependency is unavailable',
  504: 'A dependency did not answer in time',
};

/** A stable code as the controllers name them in a response description: UPPER_SNAKE, at least two parts. */
const CODE = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/g;

/**
 * Nest's swagger plugin documents every response as `application/json` with the schema's own example,
 * so a 413 would show a 400 body. Error responses are problem documents: this rewrites each one to
 * `application/problem+json` with one example per code its description names, each a body as the
 * service sends it (type, title, status, code, detail), so Swagger UI shows what a caller will get.
 */
export function documentProblemResponses(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item as Record<string, unknown>)) {
      const responses = (operation as { responses?: Record<string, ResponseObject> })?.responses;
      if (!responses || typeof responses !== 'object') continue;
      for (const [statusText, response] of Object.entries(responses)) {
        const status = Number(statusText);
        if (!(status >= 400)) continue;
        // Every error the service sends is a problem document, the health checks' 503 too (NOT_READY,
        // with each dependency's state), whatever schema a library declared for it.
        const declared = refersToProblem(response) ? [...new Set(response.description?.match(CODE) ?? [])] : [];
        const codes = declared.length > 0 ? declared : [path.startsWith('/health') && status === 503 ? 'NOT_READY' : `HTTP_${status}`];
        if (!refersToProblem(response)) response.description = `${codes.join(', ')}: ${response.description ?? ''}`.replace(/: $/, '');
        const examples = Object.fromEntries(codes.map((code) => [code, { summary: code, value: exampleBody(status, code, path, method, response.description) }]));
        response.content = { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/ProblemDto' }, examples } };
      }
    }
  }
  return document;
}

interface ResponseObject {
  description?: string;
  content?: Record<string, { schema?: { $ref?: string }; examples?: Record<string, unknown> }>;
}

function refersToProblem(response: ResponseObject): boolean {
  return Object.values(response.content ?? {}).some((media) => media.schema?.$ref === '#/components/schemas/ProblemDto');
}

function exampleBody(status: number, code: string, path: string, _method: string, description: string | undefined): Record<string, unknown> {
  const detail = detailFor(code, description);
  const instance = path.replace(/\{[^}]+\}/g, (name) => (name === '{id}' ? '3f1c2b9e-7d4a-4e2f-9b1a-0c5d6e7f8a9b' : name.slice(1, -1)));
  return new ProblemError(status, code, TITLES[status] ?? 'Error', detail).toDocument(instance, 'req-7c1f2a');
}

/** The description's words about one code: `CODE: words` or `CODE (words)`. */
function detailFor(code: string, description: string | undefined): string | undefined {
  if (!description) return undefined;
  const match = new RegExp(`${code}(?::\\s*([^;,]+)|\\s*\\(([^)]+)\\))`).exec(description);
  return (match?.[1] ?? match?.[2])?.trim();
}
