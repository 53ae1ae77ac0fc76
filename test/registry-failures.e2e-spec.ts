import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { hasOpenssl, selfSignedCertificate } from './support/openssl-x509';
import { ServiceProcess, freePort } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const REGISTRY_TIMEOUT_MS = 1_000;

/**
 * A registry that fails in the way its repository's first path component names. It is a dependency, so
 * a fake one is fair: the service must turn each failure into the same problem on both upload paths.
 */
function failingRegistry(): Server {
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    const mode = /^\/v2\/([^/]+)\//.exec(request.url ?? '')?.[1];
    const errors = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify({ errors: [{ code, message }] }));
    };
    if (request.url === '/v2/') return void response.writeHead(200).end('{}');
    if (mode === 'unauthorized') return errors(401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="fake"' });
    if (mode === 'forbidden') return errors(403, 'DENIED', 'requested access to the resource is denied');
    if (mode === 'broken') return errors(500, 'UNKNOWN', 'internal error');
    if (mode === 'slow') {
      // Answers, but only after the service's registry timeout has passed.
      const timer = setTimeout(() => errors(503, 'UNAVAILABLE', 'too late'), REGISTRY_TIMEOUT_MS * 5);
      request.socket.once('close', () => clearTimeout(timer));
      return;
    }
    errors(404, 'NAME_UNKNOWN', 'no such repository');
  });
}

const listen = (server: Server, host = '127.0.0.1'): Promise<string> =>
  new Promise((resolve) => server.listen(0, host, () => resolve(`${host}:${(server.address() as AddressInfo).port}`)));

interface Answer {
  status: number;
  contentType: string | null;
  body: Record<string, unknown>;
}

async function answer(response: Response): Promise<Answer> {
  const text = await response.text();
  expect(text.length).toBeGreaterThan(0);
  return { status: response.status, contentType: response.headers.get('content-type'), body: JSON.parse(text) as Record<string, unknown> };
}

/** Every registry failure is an answer: the same problem+json on the raw and the multipart upload path, and no job. */
describe('registry failures', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let service: ServiceProcess;
  const servers: Server[] = [];
  let fake: string;
  let fakeAsTls: string;
  let selfSigned: string | undefined;
  let closed: string;

  beforeAll(async () => {
    const registry = failingRegistry();
    servers.push(registry);
    fake = await listen(registry);
    // The same plain-http server, named so that it is not an insecure host: the service speaks TLS to it.
    fakeAsTls = `localhost:${fake.split(':')[1]}`;
    if (hasOpenssl) {
      const tls = createTlsServer(selfSignedCertificate('/CN=localhost', { subjectAltName: 'DNS:localhost,IP:127.0.0.1' }), (_request, response) =>
        response.writeHead(200).end('{}'),
      );
      servers.push(tls);
      selfSigned = await listen(tls);
    }
    closed = `127.0.0.1:${await freePort()}`;
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'registry-failures', {
        REGISTRY_INSECURE_HOSTS: [env.stackEnv.REGISTRY_INSECURE_HOSTS, fake, closed].filter(Boolean).join(','),
        REGISTRY_TIMEOUT_MS: String(REGISTRY_TIMEOUT_MS),
      }),
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  const uploadRaw = (repository: string) =>
    service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
  const uploadMultipart = (repository: string) => {
    const form = new FormData();
    form.set('repository', repository);
    form.set('tag', 'v1');
    form.set('file', new Blob([component], { type: 'application/wasm' }), 'hello.wasm');
    return service.fetch('/v1/artifacts', { method: 'POST', body: form });
  };

  const cases: [string, () => string, number, string][] = [
    ['refused connection', () => `${closed}/team/app`, 503, 'REGISTRY_UNREACHABLE'],
    ['DNS failure', () => 'nonexistent.invalid/team/app', 502, 'REGISTRY_DNS_FAILURE'],
    ['TLS failure: plain http spoken to as TLS', () => `${fakeAsTls}/team/app`, 502, 'REGISTRY_TLS_ERROR'],
    ['registry 401', () => `${fake}/unauthorized/app`, 422, 'REGISTRY_UNAUTHORIZED'],
    ['registry 403', () => `${fake}/forbidden/app`, 422, 'REGISTRY_FORBIDDEN'],
    ['registry 5xx', () => `${fake}/broken/app`, 503, 'REGISTRY_UNAVAILABLE'],
    ['slow registry', () => `${fake}/slow/app`, 504, 'REGISTRY_TIMEOUT'],
  ];

  it.each(cases)('%s: the same problem+json on both paths', async (_case, repository, status, code) => {
    const raw = await answer(await uploadRaw(repository()));
    const multipart = await answer(await uploadMultipart(repository()));
    for (const reply of [raw, multipart]) {
      expect(reply.status).toBe(status);
      expect(reply.contentType).toMatch(/^application\/problem\+json/);
      expect(reply.body).toMatchObject({ status, code, registry: repository().split('/')[0], detail: expect.any(String) });
    }
    expect([multipart.status, multipart.body.code]).toEqual([raw.status, raw.body.code]);
  });

  it('TLS failure: a self-signed certificate gets the same problem on both paths', async () => {
    if (!selfSigned) throw new Error('openssl is needed to make a self-signed certificate (Debian: apt-get install openssl)');
    const repository = `${selfSigned}/team/app`;
    for (const reply of [await answer(await uploadRaw(repository)), await answer(await uploadMultipart(repository))]) {
      expect(reply.status).toBe(502);
      expect(reply.body).toMatchObject({ code: 'REGISTRY_TLS_ERROR', registry: selfSigned });
      expect(reply.body.detail).toMatch(/self[- ]signed/i);
    }
  });

  it('answers a large raw upload too, on a connection that stays usable', async () => {
    // A body far larger than what the service reads before it fails: it must still answer, not hang up.
    const big = Buffer.concat([component, Buffer.alloc(4 * 1024 * 1024)]);
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(`${closed}/team/app`)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: big,
    });
    expect((await answer(response)).body).toMatchObject({ status: 503, code: 'REGISTRY_UNREACHABLE' });
    expect((await service.fetch('/health/live')).status).toBe(200);
  });

  it('signing and verification requests give the same answers for a refused connection and a DNS failure', async () => {
    const policy = { certificateIdentity: 'https://example.com/ci', certificateOidcIssuer: 'https://issuer.example.com' };
    for (const [reference, status, code] of [
      [`${closed}/team/app:v1`, 503, 'REGISTRY_UNREACHABLE'],
      ['nonexistent.invalid/team/app:v1', 502, 'REGISTRY_DNS_FAILURE'],
    ] as const) {
      const post = (path: string, body: unknown) => service.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      for (const response of [await post('/v1/signatures', { reference }), await post('/v1/verifications', { reference, policy })]) {
        const reply = await answer(response);
        expect(reply.contentType).toMatch(/^application\/problem\+json/);
        expect(reply).toMatchObject({ status, body: { code, registry: reference.split('/')[0] } });
      }
    }
  });

  it.each([
    ['a repository name over 255 characters', `registry.example.com/${'a'.repeat(300)}`],
    ['a repository with characters outside the grammar', 'registry.example.com/Team/Ünïcode'],
    ['a repository with a parent segment', 'registry.example.com/a/../b'],
    ['a port out of range', '127.0.0.1:99999/team/app'],
    ['an unterminated IPv6 host', '[::1/team/app'],
    ['a repository with a NUL byte', 'registry.example.com/team/a\u0000b'],
  ])('refuses %s with 400 on both paths, without touching a registry', async (_case, repository) => {
    for (const reply of [await answer(await uploadRaw(repository)), await answer(await uploadMultipart(repository))]) {
      expect(reply).toMatchObject({ status: 400, body: { code: 'INVALID_REFERENCE' } });
    }
  });

  it('refuses a repository field over its length limit with 400 on both paths, naming the field', async () => {
    const repository = `registry.example.com/${'a'.repeat(6_000)}`;
    for (const reply of [await answer(await uploadRaw(repository)), await answer(await uploadMultipart(repository))]) {
      expect(reply).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ field: 'repository' }] } });
    }
  });

  it.each([
    ['a very long reference', `registry.example.com/team/app:${'v'.repeat(5_000)}`, 'VALIDATION_FAILED'],
    ['a tag longer than 128 characters', `registry.example.com/team/app:${'v'.repeat(300)}`, 'INVALID_REFERENCE'],
    ['a malformed digest', 'registry.example.com/team/app@sha256:zz', 'INVALID_REFERENCE'],
    ['an empty path component', 'registry.example.com//app:v1', 'INVALID_REFERENCE'],
    ['no registry host', 'team/app:v1', 'INVALID_REFERENCE'],
  ])('refuses %s to sign or verify with 400', async (_case, reference, code) => {
    const policy = { certificateIdentity: 'https://example.com/ci', certificateOidcIssuer: 'https://issuer.example.com' };
    const post = (path: string, body: unknown) => service.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const response of [await post('/v1/signatures', { reference }), await post('/v1/verifications', { reference, policy })]) {
      expect(await answer(response)).toMatchObject({ status: 400, body: { code } });
    }
  });

  it('left nothing behind: no job was created', async () => {
    expect(await database.query('SELECT id FROM jobs')).toEqual([]);
  });
});
