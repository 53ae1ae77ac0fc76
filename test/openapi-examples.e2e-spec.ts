import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES } from '../src/openapi/examples';
import { finishedJob, type JobView } from './support/jobs';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

type Example = { summary?: string; value: unknown };
interface Operation {
  summary?: string;
  parameters?: { name: string; in: string; example?: unknown; schema?: { example?: unknown } }[];
  requestBody?: { content: Record<string, { examples?: Record<string, Example>; schema?: { properties?: Record<string, { example?: unknown }> } }> };
  responses: Record<string, unknown>;
}

/**
 * Swagger UI's "Try it out" → "Execute" with the prefilled examples, against a service configured as
 * `npm run dev` configures it (the local stack and its registry, loopback webhooks allowed, a callback
 * secret, an admission policy). Every example must succeed, or fail for the reason its summary names (": 422"); every status
 * must be one the operation documents; none may be a 5xx.
 */
describe('the API description’s examples, executed', () => {
  const env = testEnvironment();
  const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  let service: ServiceProcess;
  let document: { paths: Record<string, Record<string, Operation>> };

  beforeAll(async () => {
    if (env.stackEnv.LOCAL_REGISTRY !== EXAMPLES.registry) {
      throw new Error(`the examples name the registry of npm run dev (${EXAMPLES.registry}); the local stack's is ${env.stackEnv.LOCAL_REGISTRY}`);
    }
    database = await TestDatabase.create(env.postgresServerUrl);
    // The admission policy npm run dev writes: <registry>/demo/** signed as the local stack signs.
    const admissionPolicyFile = join(tmpdir(), `wasm-signer-examples-admission-${randomBytes(4).toString('hex')}.json`);
    const signer = { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL };
    writeFileSync(admissionPolicyFile, JSON.stringify({ images: [{ pattern: `${EXAMPLES.registry}/demo/**`, policy: signer }] }));
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'examples', {
        ADMISSION_POLICY_FILE: admissionPolicyFile,
        WEBHOOK_ALLOWLIST: '127.0.0.1,::1,localhost',
        WEBHOOK_CALLBACK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      }),
    );
    document = (await (await service.fetch('/docs-json')).json()) as typeof document;
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const operation = (method: string, path: string) => document.paths[path]![method]!;
  const queryOf = (op: Operation) =>
    new URLSearchParams(
      (op.parameters ?? [])
        .filter((p) => p.in === 'query' && (p.example ?? p.schema?.example) !== undefined)
        .map((p): [string, string] => [p.name, String(p.example ?? p.schema?.example)]),
    );
  const expectDocumented = (op: Operation, status: number, what: string) => {
    expect({ what, status, documented: Object.keys(op.responses).includes(String(status)) }).toEqual({ what, status, documented: true });
    expect(status).toBeLessThan(500);
  };

  it('publishes the README’s component with the raw upload’s query examples', async () => {
    const op = operation('post', '/v1/artifacts');
    const query = queryOf(op);
    expect(query.get('repository')).toBe(EXAMPLES.repository);
    const response = await service.fetch(`/v1/artifacts?${query}`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
    expectDocumented(op, response.status, 'raw upload');
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
  });

  it('publishes with the form’s field examples and a picked file', async () => {
    const op = operation('post', '/v1/artifacts');
    const properties = op.requestBody!.content['multipart/form-data']!.schema!.properties!;
    const form = new FormData();
    for (const [name, property] of Object.entries(properties)) {
      if (name !== 'file' && property.example !== undefined) form.append(name, String(property.example));
    }
    form.append('file', new Blob([component]), 'hello-http.wasm');
    const response = await service.fetch('/v1/artifacts', { method: 'POST', body: form });
    expectDocumented(op, response.status, 'multipart upload');
    expect(response.status).toBe(202);
    expect((await finishedJob(service, ((await response.json()) as JobView).id)).state).toBe('succeeded');
  });

  it('answers every JSON request example as its summary says', async () => {
    const executed: string[] = [];
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const examples = op.requestBody?.content['application/json']?.examples;
        if (!examples) continue;
        for (const [name, example] of Object.entries(examples)) {
          const what = `${method.toUpperCase()} ${path} example "${name}"`;
          const response = await service.fetch(path, { method: method.toUpperCase(), headers: { 'content-type': 'application/json' }, body: JSON.stringify(example.value) });
          const body = (await response.json()) as Record<string, unknown>;
          expectDocumented(op, response.status, what);
          const named = /: (\d{3})$/.exec(example.summary ?? '')?.[1];
          if (named) expect({ what, status: response.status }).toEqual({ what, status: Number(named) });
          else expect({ what, status: response.status, ok: response.ok }).toEqual({ what, status: response.status, ok: true });
          // A verification example says which verdict it illustrates.
          if (/verified (true|false)/.test(example.summary ?? '') && response.status === 200) {
            expect({ what, verified: body.verified }).toEqual({ what, verified: /verified true/.test(example.summary!) });
          }
          if (body.verified === false && /\b[A-Z]+_[A-Z_]+\b/.test(example.summary ?? '')) {
            expect(JSON.stringify(body)).toContain(/\b[A-Z]+_[A-Z_]+\b/.exec(example.summary!)![0]);
          }
          executed.push(what);
        }
      }
    }
    expect(executed).toEqual(
      expect.arrayContaining([
        'POST /v1/signatures example "tag"',
        'POST /v1/verifications example "identity"',
        'POST /v1/verifications/bundle example "publicGood"',
        'POST /v1/webhooks example "jobs"',
      ]),
    );
  });

  it('lists the example component’s signatures with the records query’s examples', async () => {
    const op = operation('get', '/v1/signatures');
    const response = await service.fetch(`/v1/signatures?${queryOf(op)}`);
    expectDocumented(op, response.status, 'GET /v1/signatures');
    const page = (await response.json()) as { items: unknown[] };
    expect(page.items.length).toBeGreaterThan(0);
  });
});
