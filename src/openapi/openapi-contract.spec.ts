import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What Swagger UI shows a person, read from the committed document (`npm run openapi:check` keeps it equal
 * to what the code produces): every tag explained, every operation summarised, and every error response a
 * problem document whose examples carry the response's own status.
 */
describe('openapi/openapi.json', () => {
  const document = JSON.parse(readFileSync(join(__dirname, '../../openapi/openapi.json'), 'utf8')) as {
    tags: { name: string; description?: string }[];
    paths: Record<
      string,
      Record<
        string,
        {
          tags?: string[];
          summary?: string;
          responses: Record<string, { content?: Record<string, { examples?: Record<string, { value: { status: number; code: string; type: string } }> }> }>;
        }
      >
    >;
  };
  const operations = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
  );

  it('describes every tag an operation uses', () => {
    const described = new Map(document.tags.map((tag) => [tag.name, tag.description ?? '']));
    const used = new Set(operations.flatMap(({ operation }) => operation.tags ?? []));
    expect(used.size).toBeGreaterThan(3);
    for (const tag of used) expect({ tag, description: described.get(tag) ?? '' }).toEqual({ tag, description: expect.stringMatching(/\w{3,}/) });
  });

  it('summarises every operation', () => {
    const missing = operations.filter(({ operation }) => !operation.summary).map(({ name }) => name);
    expect(missing).toEqual([]);
  });

  it('documents error responses as application/problem+json with bodies of their own status', () => {
    let checked = 0;
    for (const { name, operation } of operations) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        expect({ name, status, types: Object.keys(response.content ?? {}) }).toEqual({ name, status, types: ['application/problem+json'] });
        const examples = Object.values(response.content!['application/problem+json']!.examples ?? {});
        expect({ name, status, examples: examples.length }).toEqual({ name, status, examples: expect.any(Number) });
        expect(examples.length).toBeGreaterThan(0);
        for (const { value } of examples) {
          expect({ name, status: value.status }).toEqual({ name, status: Number(status) });
          expect(value.type).toBe(`https://wasm-signer.dev/problems/${value.code.toLowerCase().replace(/_/g, '-')}`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
