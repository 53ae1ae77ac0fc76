import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  requestBody?: { content?: Record<string, { example?: unknown; examples?: Record<string, unknown>; schema?: { example?: unknown } }> };
  responses?: Record<string, { description?: string }>;
}

/**
 * What Swagger UI shows a reader of the committed API description (openapi/openapi.json): every operation
 * says what it does (summary) and how (description), every JSON request body can be tried with an example,
 * and every error response names the problem codes (`code` of the problem+json) the caller can get.
 */
describe('the committed API description documents every operation', () => {
  const document = JSON.parse(readFileSync(resolve(__dirname, '../openapi/openapi.json'), 'utf8')) as { paths: Record<string, Record<string, Operation>> };
  const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path} (${operation.operationId})`, operation })),
  );
  const PROBLEM_CODE = /\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b/;

  it('has operations to check', () => {
    expect(operations.length).toBeGreaterThan(20);
  });

  it('gives every operation a summary and a description', () => {
    const missing = operations.flatMap(({ name, operation }) => [
      ...(operation.summary?.trim() ? [] : [`${name}: summary`]),
      ...(operation.description?.trim() ? [] : [`${name}: description`]),
    ]);
    expect(missing).toEqual([]);
  });

  it('gives every JSON request body at least one example', () => {
    const missing = operations
      .filter(({ operation }) => operation.requestBody?.content?.['application/json'])
      .filter(({ operation }) => {
        const json = operation.requestBody!.content!['application/json']!;
        return json.example === undefined && json.schema?.example === undefined && Object.keys(json.examples ?? {}).length === 0;
      })
      .map(({ name }) => name);
    expect(missing).toEqual([]);
  });

  it('names at least one problem code in every 4xx and 5xx response', () => {
    const errors = operations.flatMap(({ name, operation }) =>
      Object.entries(operation.responses ?? {})
        .filter(([status]) => /^[45]\d\d$/.test(status))
        .map(([status, response]) => ({ what: `${name} ${status}`, description: response.description ?? '' })),
    );
    expect(errors.length).toBeGreaterThan(operations.length);
    expect(errors.filter(({ description }) => !PROBLEM_CODE.test(description))).toEqual([]);
  });
});
