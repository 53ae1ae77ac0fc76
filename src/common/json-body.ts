import type { FastifyInstance } from 'fastify';
import { ProblemError } from './problem';

/**
 * Deepest nesting of arrays and objects a JSON body may have. No request of this API nests more than a
 * few levels (a Sigstore bundle about ten); validating and transforming a body recurses once per level,
 * so thousands of levels would overflow the stack.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether the JSON text nests arrays and objects deeper than `max`: one pass, no recursion. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c /* \ */) i++;
      else if (code === 0x22 /* " */) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b /* [ */ || code === 0x7b /* { */) {
      if (++depth > max) return true;
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * The application/json parser: Fastify's own (secure-json-parse, refusing `__proto__` and
 * `constructor.prototype` keys; the body limit applies as before), after a depth check.
 */
export function registerJsonParser(fastify: FastifyInstance, bodyLimit: number): void {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
    if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) {
      done(new ProblemError(400, 'JSON_TOO_DEEP', 'The JSON body is nested too deeply', `arrays and objects may nest at most ${MAX_JSON_DEPTH} levels deep`), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
