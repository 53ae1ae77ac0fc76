import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { IdentityTokenError } from './identity-errors';
import { GcpMetadataSource, GitHubActionsSource, StaticTokenSource, TokenFileSource } from './identity-providers';

/** The IdentityTokenError a promise rejects with, failing the test when it resolves or rejects with something else. */
async function stepErrorOf(promise: Promise<unknown>): Promise<IdentityTokenError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a IdentityTokenError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(IdentityTokenError);
  return outcome.error as IdentityTokenError;
}

describe('TokenFileSource', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wasm-signer-token-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('re-reads the file on every call, so a rotated token is picked up', async () => {
    const path = join(dir, 'rotating-token');
    const source = new TokenFileSource(path);
    await writeFile(path, 'first.token.value\n');
    expect(await source.getToken()).toBe('first.token.value');
    await writeFile(path, 'second.token.value');
    expect(await source.getToken()).toBe('second.token.value');
    await writeFile(path, '  third.token.value \r\n');
    expect(await source.getToken()).toBe('third.token.value');
    expect(source.description).toBe(`token file ${path}`);
  });

  it('reports a missing file as transient IDENTITY_TOKEN_UNAVAILABLE (a projected token may appear later)', async () => {
    const path = join(dir, 'not-there-yet');
    const error = await stepErrorOf(new TokenFileSource(path).getToken());
    expect(error.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(error.transient).toBe(true);
    expect(error.retryAfterMs).toBe(5_000);
    expect(error.message).toContain(path);
    expect(error.message).toContain('ENOENT');

    // Once it appears, it is read.
    await writeFile(path, 'now.it.exists');
    expect(await new TokenFileSource(path).getToken()).toBe('now.it.exists');
  });

  it('reports an empty or blank file as transient IDENTITY_TOKEN_UNAVAILABLE', async () => {
    for (const content of ['', '\n', '   \n\t']) {
      const path = join(dir, 'blank');
      await writeFile(path, content);
      const error = await stepErrorOf(new TokenFileSource(path).getToken());
      expect(error.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
      expect(error.transient).toBe(true);
      expect(error.message).toContain('is empty');
    }
  });

  it('reports a directory in place of the file as transient IDENTITY_TOKEN_UNAVAILABLE', async () => {
    const error = await stepErrorOf(new TokenFileSource(dir).getToken());
    expect(error.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(error.message).toContain('EISDIR');
  });
});

describe('StaticTokenSource', () => {
  it('returns the configured token every time', async () => {
    const source = new StaticTokenSource('static.jwt.value');
    expect(await source.getToken()).toBe('static.jwt.value');
    expect(await source.getToken()).toBe('static.jwt.value');
  });
});

interface Seen {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
}

/** A loopback HTTP server answering every request with `respond`, recording what it was asked. */
class FakeServer {
  readonly seen: Seen[] = [];
  respond: (request: Seen) => { status: number; body: string; contentType?: string } = () => ({ status: 200, body: '' });
  private server!: Server;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const request = { method: req.method ?? '', url: new URL(req.url ?? '/', 'http://fake'), headers: req.headers };
      this.seen.push(request);
      const { status, body, contentType } = this.respond(request);
      res.writeHead(status, { 'content-type': contentType ?? 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on: a server is bound, its port noted, and it is closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('GitHubActionsSource', () => {
  const fake = new FakeServer();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.seen.length = 0;
  });

  it('asks for a sigstore-audience token with the request bearer token and returns its value', async () => {
    fake.respond = () => ({ status: 200, body: JSON.stringify({ count: 1, value: 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzaWdzdG9yZSJ9.c2ln' }) });
    // GitHub's request URL already carries a query (api-version): it must be kept.
    const source = new GitHubActionsSource(`${fake.url}/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/idtoken?api-version=2.0`, 'request-token-123');
    expect(await source.getToken()).toBe('eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzaWdzdG9yZSJ9.c2ln');

    expect(fake.seen).toHaveLength(1);
    const [request] = fake.seen;
    expect(request!.method).toBe('GET');
    expect(request!.url.pathname).toBe('/_apis/distributedtask/hubs/build/plans/p1/jobs/j1/idtoken');
    expect(request!.url.searchParams.get('audience')).toBe('sigstore');
    expect(request!.url.searchParams.get('api-version')).toBe('2.0');
    expect(request!.headers.authorization).toBe('bearer request-token-123');
    expect(request!.headers.accept).toBe('application/json');
    expect(source.description).toBe('GitHub Actions OIDC');
  });

  it('asks for another audience when configured with one', async () => {
    fake.respond = () => ({ status: 200, body: '{"value":"t"}' });
    await new GitHubActionsSource(`${fake.url}/token`, 'rt', 'custom-aud').getToken();
    expect(fake.seen[0]!.url.searchParams.getAll('audience')).toEqual(['custom-aud']);
  });

  it('replaces an audience already in the request URL rather than sending two', async () => {
    fake.respond = () => ({ status: 200, body: '{"value":"t"}' });
    await new GitHubActionsSource(`${fake.url}/token?audience=wrong`, 'rt').getToken();
    expect(fake.seen[0]!.url.searchParams.getAll('audience')).toEqual(['sigstore']);
  });

  it.each([500, 502, 503, 429])('reports HTTP %i as transient IDENTITY_TOKEN_UNAVAILABLE', async (status) => {
    fake.respond = () => ({ status, body: '{"message":"try later"}' });
    const error = await stepErrorOf(new GitHubActionsSource(`${fake.url}/token`, 'rt').getToken());
    expect(error.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(error.transient).toBe(true);
    expect(error.message).toContain(`HTTP ${status}`);
    expect(error.message).toContain('GitHub Actions OIDC');
  });

  it.each([401, 403, 404])('reports HTTP %i as permanent IDENTITY_TOKEN_REFUSED', async (status) => {
    fake.respond = () => ({ status, body: '{"message":"no"}' });
    const error = await stepErrorOf(new GitHubActionsSource(`${fake.url}/token`, 'rt').getToken());
    expect(error.code).toBe('IDENTITY_TOKEN_REFUSED');
    expect(error.transient).toBe(false);
    expect(error.message).toContain(`HTTP ${status}`);
  });

  it('refuses an answer without a string value, and reports a non-JSON body as transient', async () => {
    fake.respond = () => ({ status: 200, body: '{"count":0}' });
    const noValue = await stepErrorOf(new GitHubActionsSource(`${fake.url}/token`, 'rt').getToken());
    expect(noValue.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(noValue.transient).toBe(false);

    fake.respond = () => ({ status: 200, body: '<html>proxy error</html>', contentType: 'text/html' });
    const notJson = await stepErrorOf(new GitHubActionsSource(`${fake.url}/token`, 'rt').getToken());
    expect(notJson.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(notJson.transient).toBe(true);
    expect(notJson.message).toContain('not JSON');
  });

  it('reports an endpoint that cannot be reached as transient IDENTITY_TOKEN_UNAVAILABLE', async () => {
    const port = await closedPort();
    const error = await stepErrorOf(new GitHubActionsSource(`http://127.0.0.1:${port}/token`, 'rt').getToken());
    expect(error.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(error.transient).toBe(true);
    expect(error.message).toContain('cannot reach the GitHub Actions OIDC');
  });

  it('stops when the caller aborts', async () => {
    fake.respond = () => ({ status: 200, body: '{"value":"t"}' });
    const controller = new AbortController();
    controller.abort();
    const error = await stepErrorOf(new GitHubActionsSource(`${fake.url}/token`, 'rt').getToken(controller.signal));
    expect(error.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(fake.seen).toHaveLength(0);
  });
});

describe('GcpMetadataSource', () => {
  const fake = new FakeServer();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  beforeEach(() => {
    fake.seen.length = 0;
  });

  it('asks the metadata server for a full-format sigstore identity token with Metadata-Flavor: Google', async () => {
    fake.respond = () => ({ status: 200, body: 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzaWdzdG9yZSJ9.c2ln\n', contentType: 'text/html' });
    const source = new GcpMetadataSource(fake.url);
    expect(await source.getToken()).toBe('eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJzaWdzdG9yZSJ9.c2ln');

    expect(fake.seen).toHaveLength(1);
    const [request] = fake.seen;
    expect(request!.method).toBe('GET');
    expect(request!.url.pathname).toBe('/computeMetadata/v1/instance/service-accounts/default/identity');
    expect(request!.url.searchParams.get('audience')).toBe('sigstore');
    expect(request!.url.searchParams.get('format')).toBe('full');
    expect(request!.headers['metadata-flavor']).toBe('Google');
    expect(source.description).toBe('GCP metadata server');
  });

  it('passes a configured audience', async () => {
    fake.respond = () => ({ status: 200, body: 'tok' });
    await new GcpMetadataSource(fake.url, 'other-aud').getToken();
    expect(fake.seen[0]!.url.searchParams.get('audience')).toBe('other-aud');
  });

  it('reports 503 as transient and 403 / 404 as permanent IDENTITY_TOKEN_REFUSED', async () => {
    fake.respond = () => ({ status: 503, body: 'unavailable', contentType: 'text/plain' });
    const unavailable = await stepErrorOf(new GcpMetadataSource(fake.url).getToken());
    expect(unavailable).toMatchObject({ code: 'IDENTITY_TOKEN_UNAVAILABLE', transient: true });
    expect(unavailable.message).toContain('GCP metadata server answered HTTP 503');

    for (const status of [403, 404]) {
      fake.respond = () => ({ status, body: 'no service account', contentType: 'text/plain' });
      const refused = await stepErrorOf(new GcpMetadataSource(fake.url).getToken());
      expect(refused).toMatchObject({ code: 'IDENTITY_TOKEN_REFUSED', transient: false });
      expect(refused.message).toContain(`HTTP ${status}`);
    }
  });

  it('reports a metadata server that cannot be reached as transient', async () => {
    const port = await closedPort();
    const error = await stepErrorOf(new GcpMetadataSource(`http://127.0.0.1:${port}`).getToken());
    expect(error).toMatchObject({ code: 'IDENTITY_TOKEN_UNAVAILABLE', transient: true });
    expect(error.message).toContain('cannot reach the GCP metadata server');
  });
});
