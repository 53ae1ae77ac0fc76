import { randomUUID } from 'node:crypto';
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { OciRepository } from './oci-reference';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from './oci-media-types';
import { RegistryClient, RegistryClientOptions } from './registry-client';
import { RegistryCredential, RegistryCredentials } from './registry-credentials';
import { RegistryError } from './registry-error';

/**
 * RegistryClient against a small fake registry and token service built with node:http on loopback:
 * real HTTP, so the auth handshake, redirects, streaming and error mapping run as in production.
 */

type Handler = (request: IncomingMessage, body: Buffer, response: ServerResponse) => unknown;

interface Recorded {
  method: string;
  url: string;
  authorization?: string;
  body: Buffer;
  headers: IncomingMessage['headers'];
}

async function listen(handler: Handler): Promise<{ server: Server; host: string; requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, body, headers: request.headers });
      Promise.resolve(handler(request, body, response)).catch((error: unknown) => {
        response.statusCode = 500;
        response.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

const json = (response: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(value));
};
const registryErrors = (response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  json(response, status, { errors: [{ code, message }] }, headers);

interface FakeRegistryOptions {
  auth: 'none' | 'basic' | 'bearer';
  basicUser?: [string, string];
  tokenRealm?: () => string;
  referrersApi?: boolean;
  /** Honour If-Match on manifest PUT (412 when the ETag differs). */
  conditionalPut?: boolean;
  /** Runs before the built-in routes; return true when it answered. */
  intercept?: (request: IncomingMessage, body: Buffer, response: ServerResponse) => boolean;
}

/** An in-memory registry: blobs, upload sessions, manifests and tags, optionally the referrers API. */
class FakeRegistry {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { mediaType: string; bytes: Buffer }>();
  readonly tags = new Map<string, string>();
  readonly uploads = new Map<string, Buffer[]>();
  /** token → scopes it grants */
  readonly tokens = new Map<string, string[]>();

  constructor(private readonly options: FakeRegistryOptions) {}

  handler: Handler = (request, body, response) => {
    if (this.options.intercept?.(request, body, response)) return;
    const url = new URL(request.url!, 'http://fake');
    const match = /^\/v2\/(.+?)\/(blobs|manifests|referrers)\/(.*)$/.exec(url.pathname);
    if (!match) return registryErrors(response, 404, 'NOT_FOUND', 'no route');
    const [, name, kind, rest] = match as unknown as [string, string, string, string];
    const write = request.method !== 'GET' && request.method !== 'HEAD';
    if (!this.#authorized(request, response, name, write)) return;

    if (kind === 'blobs' && rest === 'uploads/' && request.method === 'POST') {
      const id = randomUUID();
      this.uploads.set(id, []);
      response.writeHead(202, { location: `/v2/${name}/blobs/uploads/${id}?_state=s0`, 'docker-upload-uuid': id, range: '0-0' });
      return response.end();
    }
    if (kind === 'blobs' && rest.startsWith('uploads/')) {
      const id = rest.slice('uploads/'.length);
      const parts = this.uploads.get(id);
      if (!parts) return registryErrors(response, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown');
      if (request.method === 'DELETE') {
        this.uploads.delete(id);
        response.writeHead(204);
        return response.end();
      }
      parts.push(body);
      const size = parts.reduce((total, part) => total + part.length, 0);
      if (request.method === 'PATCH') {
        response.writeHead(202, { location: `/v2/${name}/blobs/uploads/${id}?_state=s${size}`, range: `0-${Math.max(0, size - 1)}` });
        return response.end();
      }
      if (request.method === 'PUT') {
        const digest = url.searchParams.get('digest')!;
        const content = Buffer.concat(parts);
        if (sha256Digest(content) !== digest) return registryErrors(response, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
        this.uploads.delete(id);
        this.blobs.set(digest, content);
        response.writeHead(201, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
        return response.end();
      }
    }
    if (kind === 'blobs' && (request.method === 'HEAD' || request.method === 'GET')) {
      const blob = this.blobs.get(rest);
      if (!blob) return registryErrors(response, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      response.writeHead(200, { 'content-length': String(blob.length), 'docker-content-digest': rest });
      return response.end(request.method === 'GET' ? blob : undefined);
    }
    if (kind === 'manifests') {
      const key = `${name}@${rest.startsWith('sha256:') ? rest : this.tags.get(`${name}:${rest}`)}`;
      if (request.method === 'PUT') {
        const digest = sha256Digest(body);
        const current = this.tags.get(`${name}:${rest}`);
        if (this.options.conditionalPut && request.headers['if-match'] !== undefined && request.headers['if-match'] !== `"${current}"`) {
          return registryErrors(response, 412, 'PRECONDITION_FAILED', 'etag mismatch');
        }
        this.manifests.set(`${name}@${digest}`, { mediaType: request.headers['content-type']!, bytes: body });
        if (!rest.startsWith('sha256:')) this.tags.set(`${name}:${rest}`, digest);
        const headers: Record<string, string> = { 'docker-content-digest': digest, location: `/v2/${name}/manifests/${digest}` };
        const subject = (JSON.parse(body.toString()) as { subject?: { digest: string } }).subject;
        if (this.options.referrersApi && subject) headers['oci-subject'] = subject.digest;
        response.writeHead(201, headers);
        return response.end();
      }
      const stored = this.manifests.get(key);
      if (!stored) return registryErrors(response, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      const digest = sha256Digest(stored.bytes);
      response.writeHead(200, {
        'content-type': stored.mediaType,
        'content-length': String(stored.bytes.length),
        'docker-content-digest': digest,
        etag: `"${digest}"`,
      });
      return response.end(request.method === 'GET' ? stored.bytes : undefined);
    }
    if (kind === 'referrers' && this.options.referrersApi) {
      const manifests = [...this.manifests.entries()]
        .filter(([key]) => key.startsWith(`${name}@`))
        .map(([, stored]) => ({ stored, parsed: JSON.parse(stored.bytes.toString()) as { subject?: { digest: string }; artifactType?: string } }))
        .filter(({ parsed }) => parsed.subject?.digest === rest)
        .map(({ stored, parsed }) => ({ mediaType: stored.mediaType, size: stored.bytes.length, digest: sha256Digest(stored.bytes), artifactType: parsed.artifactType }));
      // Two pages: the first entry, then the rest behind a Link header.
      const page = url.searchParams.get('page') === '2' ? manifests.slice(1) : manifests.slice(0, 1);
      const headers: Record<string, string> = { 'content-type': OCI_INDEX_MEDIA_TYPE };
      if (url.searchParams.get('page') !== '2' && manifests.length > 1) headers.link = `</v2/${name}/referrers/${rest}?page=2>; rel="next"`;
      return json(response, 200, { schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: page }, headers);
    }
    return registryErrors(response, 404, 'NOT_FOUND', 'no route');
  };

  #authorized(request: IncomingMessage, response: ServerResponse, name: string, write: boolean): boolean {
    const { auth } = this.options;
    if (auth === 'none') return true;
    const header = request.headers.authorization;
    if (auth === 'basic') {
      const [user, password] = this.options.basicUser!;
      if (header === `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`) return true;
      registryErrors(response, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="fake"' });
      return false;
    }
    const needed = `repository:${name}:${write ? 'pull,push' : 'pull'}`;
    const granted = header?.startsWith('Bearer ') ? this.tokens.get(header.slice(7)) : undefined;
    if (granted?.some((scope) => scope === needed || scope === `repository:${name}:pull,push`)) return true;
    registryErrors(response, 401, 'UNAUTHORIZED', 'authentication required', {
      'www-authenticate': `Bearer realm="${this.options.tokenRealm!()}",service="fake-registry",scope="${needed}"`,
    });
    return false;
  }
}

/** A token service: Basic credentials or a refresh token for pushes, anonymous tokens for pulls. */
function tokenService(registry: FakeRegistry, options: { user: string; password: string; refreshToken?: string; expiresIn?: number }): Handler {
  return (request, body, response) => {
    const url = new URL(request.url!, 'http://auth');
    let scopes: string[];
    let authenticated = false;
    if (request.method === 'POST') {
      const form = new URLSearchParams(body.toString());
      if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== options.refreshToken) {
        return json(response, 401, { error: 'invalid_grant' });
      }
      authenticated = true;
      scopes = (form.get('scope') ?? '').split(' ');
    } else {
      scopes = url.searchParams.getAll('scope');
      if (request.headers.authorization !== undefined) {
        if (request.headers.authorization !== `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`) {
          return json(response, 401, { details: 'incorrect username or password' });
        }
        authenticated = true;
      }
    }
    const token = randomUUID();
    registry.tokens.set(token, authenticated ? scopes : scopes.map((scope) => scope.replace(/:pull,push$/, ':pull')));
    const answer: Record<string, unknown> = request.method === 'POST' ? { access_token: token } : { token };
    if (options.expiresIn !== undefined) answer.expires_in = options.expiresIn;
    return json(response, 200, answer);
  };
}

const manifestBytes = (configDigest: string, extra: Record<string, unknown> = {}) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: configDigest },
      layers: [],
      ...extra,
    }),
  );

const EMPTY = Buffer.from('{}');
const EMPTY_DIGEST = sha256Digest(EMPTY);

async function caught(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    return error as RegistryError;
  }
  throw new Error('expected a rejection');
}

describe('RegistryClient against a fake registry', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });

  async function start(options: FakeRegistryOptions, token?: Parameters<typeof tokenService>[1]) {
    let realm = '';
    const fake = new FakeRegistry({ ...options, tokenRealm: () => realm });
    const registry = await listen(fake.handler);
    servers.push(registry.server);
    let auth: Awaited<ReturnType<typeof listen>> | undefined;
    if (token) {
      auth = await listen(tokenService(fake, token));
      servers.push(auth.server);
      realm = `http://${auth.host}/token`;
    }
    const repo: OciRepository = { registry: registry.host, repository: 'ns/comp' };
    const client = (extra: Partial<RegistryClientOptions> = {}) =>
      new RegistryClient({
        userAgent: 'wasm-signer-test',
        requestTimeoutMs: 5_000,
        insecureHosts: [registry.host, ...(auth ? [auth.host] : [])],
        ...extra,
      });
    return { fake, registry, auth, repo, client };
  }

  describe('onRequest', () => {
    it('is told of every request, the token handshake included, with its method, status and duration', async () => {
      const { fake, registry, auth, repo, client } = await start({ auth: 'bearer' }, { user: 'alice', password: 's3cret', expiresIn: 300 });
      const records: Array<{ method: string; status: number | null; seconds: number }> = [];
      const c = client({ credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('alice', 's3cret')]]), onRequest: (r) => records.push(r) });

      await c.pushBlob(repo, EMPTY_DIGEST, EMPTY);
      expect(fake.blobs.get(EMPTY_DIGEST)).toEqual(EMPTY);
      const seen = [...registry.requests, ...auth!.requests];
      expect(records).toHaveLength(seen.length);
      expect(records.map((r) => r.method).sort()).toEqual(seen.map((r) => r.method).sort());
      expect(records[0]).toMatchObject({ method: 'HEAD', status: 401 });
      expect(records.map((r) => r.status)).toContain(201);
      for (const r of records) expect(r.seconds).toBeGreaterThanOrEqual(0);
    });

    it('records a request that got no answer with status null', async () => {
      const records: Array<{ method: string; status: number | null }> = [];
      const c = new RegistryClient({ userAgent: 't', requestTimeoutMs: 2_000, insecureHosts: ['127.0.0.1:1'], onRequest: (r) => records.push(r) });
      await expect(c.blobExists({ registry: '127.0.0.1:1', repository: 'ns/comp' }, EMPTY_DIGEST)).rejects.toThrow(RegistryError);
      expect(records).toEqual([expect.objectContaining({ method: 'HEAD', status: null })]);
    });
  });

  describe('bearer token flow', () => {
    it('gets a token with Basic credentials, caches it per scope, and renews it when it expires', async () => {
      let now = 1_000_000;
      const { fake, registry, auth, repo, client } = await start({ auth: 'bearer' }, { user: 'alice', password: 's3cret', expiresIn: 300 });
      const credentials = new RegistryCredentials([[registry.host, RegistryCredential.basic('alice', 's3cret')]]);
      const c = client({ credentials, now: () => now });

      expect(await c.pushBlob(repo, EMPTY_DIGEST, EMPTY)).toEqual({ digest: EMPTY_DIGEST, size: 2, uploaded: true });
      expect(fake.blobs.get(EMPTY_DIGEST)).toEqual(EMPTY);
      // One anonymous attempt, one token request, then everything with the token.
      expect(auth!.requests).toHaveLength(1);
      const tokenUrl = new URL(auth!.requests[0]!.url, 'http://x');
      expect(tokenUrl.searchParams.get('service')).toBe('fake-registry');
      expect(tokenUrl.searchParams.getAll('scope')).toEqual(['repository:ns/comp:pull,push']);
      expect(tokenUrl.searchParams.get('account')).toBe('alice');
      expect(auth!.requests[0]!.authorization).toBe(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
      expect(registry.requests.filter((r) => r.authorization === undefined)).toHaveLength(1);

      // Same scope: cached. Reads need another scope: a new token, straight from the known realm.
      await c.pushBlob(repo, EMPTY_DIGEST, EMPTY);
      expect(auth!.requests).toHaveLength(1);
      await c.putManifest(repo, 'v1', OCI_MANIFEST_MEDIA_TYPE, manifestBytes(EMPTY_DIGEST));
      expect(auth!.requests).toHaveLength(1);
      expect(await c.getManifest(repo, 'v1')).toBeDefined();
      expect(auth!.requests).toHaveLength(2);
      expect(new URL(auth!.requests[1]!.url, 'http://x').searchParams.getAll('scope')).toEqual(['repository:ns/comp:pull']);
      expect(registry.requests.filter((r) => r.authorization === undefined)).toHaveLength(1);

      // Past expires_in the token is fetched again.
      now += 301_000;
      await c.getManifest(repo, 'v1');
      expect(auth!.requests).toHaveLength(3);
    });

    it('defaults the token lifetime to 60 s', async () => {
      let now = 0;
      const { registry, auth, repo, client } = await start({ auth: 'bearer' }, { user: 'u', password: 'p' });
      const c = client({ now: () => now, credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('u', 'p')]]) });
      await c.blobExists(repo, EMPTY_DIGEST);
      now += 30_000;
      await c.blobExists(repo, EMPTY_DIGEST);
      expect(auth!.requests).toHaveLength(1);
      now += 31_000;
      await c.blobExists(repo, EMPTY_DIGEST);
      expect(auth!.requests).toHaveLength(2);
    });

    it('exchanges an identity token with the OAuth2 refresh-token grant (POST)', async () => {
      const { registry, auth, repo, client } = await start({ auth: 'bearer' }, { user: 'x', password: 'y', refreshToken: 'refresh-123' });
      const c = client({ credentials: new RegistryCredentials([[registry.host, RegistryCredential.identityToken('refresh-123', '<token>')]]) });
      await c.pushBlob(repo, EMPTY_DIGEST, EMPTY);
      expect(auth!.requests).toHaveLength(1);
      const request = auth!.requests[0]!;
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(request.url).toBe('/token');
      const form = new URLSearchParams(request.body.toString());
      expect(Object.fromEntries(form)).toEqual({
        grant_type: 'refresh_token',
        refresh_token: 'refresh-123',
        client_id: 'wasm-signer',
        service: 'fake-registry',
        scope: 'repository:ns/comp:pull,push',
      });
    });

    it('pulls anonymously without credentials, and says so when a push is refused', async () => {
      const { fake, auth, repo, client } = await start({ auth: 'bearer' }, { user: 'u', password: 'p' });
      fake.manifests.set(`ns/comp@${sha256Digest(manifestBytes(EMPTY_DIGEST))}`, { mediaType: OCI_MANIFEST_MEDIA_TYPE, bytes: manifestBytes(EMPTY_DIGEST) });
      const c = client();
      expect(await c.getManifest(repo, sha256Digest(manifestBytes(EMPTY_DIGEST)))).toBeDefined();
      expect(auth!.requests[0]!.authorization).toBeUndefined();
      const error = await caught(c.pushBlob(repo, EMPTY_DIGEST, EMPTY));
      expect(error.code).toBe('REGISTRY_UNAUTHORIZED');
      expect(error.transient).toBe(false);
      expect(error.message).toContain(`no credentials are configured for ${repo.registry}`);
      expect(error.message).toContain('repository ns/comp');
    });

    it('reports credentials the token service refuses, without revealing them', async () => {
      const { registry, repo, client } = await start({ auth: 'bearer' }, { user: 'alice', password: 'right' });
      const c = client({ credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('alice', 'wrong-password')]]) });
      const error = await caught(c.blobExists(repo, EMPTY_DIGEST));
      expect(error).toBeInstanceOf(RegistryError);
      expect(error.code).toBe('REGISTRY_UNAUTHORIZED');
      expect(error.message).toContain(`the credentials configured for ${registry.host} were not accepted`);
      expect(error.message).toContain('GET token from http://');
      expect(error.message).not.toContain('wrong-password');
      expect(JSON.stringify(error)).not.toContain('wrong-password');
    });

    it('refuses a token realm over plain http unless its host is insecure', async () => {
      const { registry, auth, repo } = await start({ auth: 'bearer' }, { user: 'u', password: 'p' });
      const c = new RegistryClient({
        userAgent: 't',
        requestTimeoutMs: 5_000,
        insecureHosts: [registry.host],
        credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('u', 'p')]]),
      });
      const error = await caught(c.blobExists(repo, EMPTY_DIGEST));
      expect(error.code).toBe('REGISTRY_PROTOCOL_ERROR');
      expect(error.message).toContain(`list ${auth!.host} among the insecure hosts`);
      expect(auth!.requests).toHaveLength(0);
    });
  });

  describe('basic flow', () => {
    it('answers a Basic challenge once, then sends credentials up front', async () => {
      const { registry, repo, client } = await start({ auth: 'basic', basicUser: ['bob', 'pw'] });
      const c = client({ credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('bob', 'pw')]]) });
      await c.pushBlob(repo, EMPTY_DIGEST, EMPTY);
      await c.putManifest(repo, 'v1', OCI_MANIFEST_MEDIA_TYPE, manifestBytes(EMPTY_DIGEST));
      expect(registry.requests.filter((r) => r.authorization === undefined)).toHaveLength(1);
      expect(registry.requests.slice(1).every((r) => r.authorization === `Basic ${Buffer.from('bob:pw').toString('base64')}`)).toBe(true);
    });

    it('fails with REGISTRY_UNAUTHORIZED without credentials and with wrong ones', async () => {
      const { registry, repo, client } = await start({ auth: 'basic', basicUser: ['bob', 'pw'] });
      const anonymous = await caught(client().blobExists(repo, EMPTY_DIGEST));
      expect(anonymous.code).toBe('REGISTRY_UNAUTHORIZED');
      expect(anonymous.message).toContain('no credentials are configured');
      const wrong = await caught(client({ credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('bob', 'nope')]]) }).blobExists(repo, EMPTY_DIGEST));
      expect(wrong.code).toBe('REGISTRY_UNAUTHORIZED');
      expect(wrong.message).toContain('were not accepted');
    });
  });

  describe('error classification', () => {
    it('maps 403, 404 NAME_UNKNOWN, 429 with Retry-After, 5xx and 400', async () => {
      const answers: Record<string, [number, string, string, Record<string, string>?]> = {
        forbidden: [403, 'DENIED', 'requested access to the resource is denied'],
        unknown: [404, 'NAME_UNKNOWN', 'repository name not known to registry'],
        throttled: [429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '17' }],
        down: [503, 'UNAVAILABLE', 'maintenance', { 'retry-after': '2' }],
        invalid: [400, 'MANIFEST_INVALID', 'manifest invalid'],
      };
      const { registry, client } = await start({
        auth: 'none',
        intercept: (request, _body, response) => {
          const name = /^\/v2\/([^/]+)\//.exec(request.url!)?.[1] ?? '';
          const answer = answers[name];
          if (!answer) return false;
          registryErrors(response, answer[0], answer[1], answer[2], answer[3]);
          return true;
        },
      });
      const c = client();
      const run = (name: string) => caught(c.putManifest({ registry: registry.host, repository: name }, 'v1', OCI_MANIFEST_MEDIA_TYPE, manifestBytes(EMPTY_DIGEST)));
      expect(await run('forbidden')).toMatchObject({ code: 'REGISTRY_FORBIDDEN', transient: false, status: 403 });
      expect(await run('unknown')).toMatchObject({ code: 'REPOSITORY_NOT_FOUND', transient: false });
      expect(await run('throttled')).toMatchObject({ code: 'REGISTRY_THROTTLED', transient: true, retryAfterMs: 17_000 });
      expect(await run('down')).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', transient: true, retryAfterMs: 2_000 });
      const invalid = await run('invalid');
      expect(invalid).toMatchObject({ code: 'REGISTRY_REJECTED', transient: false, details: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }] });
      expect(invalid.message).toContain('MANIFEST_INVALID manifest invalid');
    });

    it('reads a tag again when the registry answers 500 while the tag is being rewritten; a lasting 500 is REGISTRY_UNAVAILABLE', async () => {
      let failures = 0;
      const { fake, repo, client } = await start({
        auth: 'none',
        intercept: (request, _body, response) => {
          if (request.method !== 'GET' || !request.url!.endsWith('/manifests/v1') || failures <= 0) return false;
          failures -= 1;
          registryErrors(response, 500, 'UNKNOWN', 'unknown error');
          return true;
        },
      });
      const bytes = manifestBytes(EMPTY_DIGEST);
      fake.manifests.set(`ns/comp@${sha256Digest(bytes)}`, { mediaType: OCI_MANIFEST_MEDIA_TYPE, bytes });
      fake.tags.set('ns/comp:v1', sha256Digest(bytes));
      failures = 2;
      expect(await client().getManifest(repo, 'v1')).toMatchObject({ mediaType: OCI_MANIFEST_MEDIA_TYPE });
      expect(failures).toBe(0);
      failures = 3;
      expect(await caught(client().getManifest(repo, 'v1'))).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', transient: true, status: 500 });
      expect(failures).toBe(0);
    });

    it('returns undefined for a missing manifest, MANIFEST_NOT_FOUND where one must exist', async () => {
      const { repo, client } = await start({ auth: 'none' });
      const c = client();
      expect(await c.getManifest(repo, 'nope')).toBeUndefined();
      expect(await c.headManifest(repo, 'nope')).toBeUndefined();
      expect(await caught(c.getRequiredManifest(repo, 'nope'))).toMatchObject({ code: 'MANIFEST_NOT_FOUND', transient: false });
    });

    it('detects a manifest whose bytes do not match the digest asked for', async () => {
      const { fake, repo, client } = await start({ auth: 'none' });
      const claimed = sha256Digest(Buffer.from('something else'));
      fake.manifests.set(`ns/comp@${claimed}`, { mediaType: OCI_MANIFEST_MEDIA_TYPE, bytes: manifestBytes(EMPTY_DIGEST) });
      const error = await caught(client().getManifest(repo, claimed));
      expect(error).toMatchObject({ code: 'DIGEST_MISMATCH', transient: false });
    });

    it('is REGISTRY_UNREACHABLE when nothing listens', async () => {
      const { server, host } = await listen(() => undefined);
      await close(server);
      const c = new RegistryClient({ userAgent: 't', requestTimeoutMs: 5_000, insecureHosts: [host] });
      const error = await caught(c.blobExists({ registry: host, repository: 'a' }, EMPTY_DIGEST));
      expect(error).toMatchObject({ code: 'REGISTRY_UNREACHABLE', transient: true });
      expect(error.message).toContain('ECONNREFUSED');
    });

    it('is REGISTRY_TIMEOUT when the registry does not answer in time', async () => {
      const silent = await listen(() => undefined);
      servers.push(silent.server);
      const c = new RegistryClient({ userAgent: 't', requestTimeoutMs: 300, insecureHosts: [silent.host] });
      const error = await caught(c.blobExists({ registry: silent.host, repository: 'a' }, EMPTY_DIGEST));
      expect(error).toMatchObject({ code: 'REGISTRY_TIMEOUT', transient: true });
      expect(error.message).toContain('did not answer within 300 ms');
    });

    it("rethrows the caller's abort reason unchanged", async () => {
      const silent = await listen(() => undefined);
      servers.push(silent.server);
      const c = new RegistryClient({ userAgent: 't', requestTimeoutMs: 5_000, insecureHosts: [silent.host] });
      const reason = new Error('job cancelled');
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 50);
      await expect(c.blobExists({ registry: silent.host, repository: 'a' }, EMPTY_DIGEST, { signal: controller.signal })).rejects.toBe(reason);
    });

    it('speaks https to hosts not listed as insecure (REGISTRY_TLS_ERROR against plain http)', async () => {
      const { registry, repo } = await start({ auth: 'none' });
      const c = new RegistryClient({ userAgent: 't', requestTimeoutMs: 5_000, insecureHosts: [] });
      const error = await caught(c.blobExists(repo, EMPTY_DIGEST));
      expect(error).toMatchObject({ code: 'REGISTRY_TLS_ERROR', transient: false });
      expect(error.message).toContain(`list ${registry.host} in the insecure registry hosts`);
      expect(registry.requests).toHaveLength(0);
    });

    it('refuses invalid repository names, tags and digests before any request', async () => {
      const { registry, repo, client } = await start({ auth: 'none' });
      const c = client();
      await expect(c.blobExists({ registry: registry.host, repository: 'Bad/Name' }, EMPTY_DIGEST)).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
      await expect(c.blobExists(repo, 'sha256:short')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
      await expect(c.getManifest(repo, '../../etc')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
      await expect(c.pushBlob(repo, EMPTY_DIGEST, Buffer.from('not it'))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
      expect(registry.requests).toHaveLength(0);
    });
  });

  describe('transport', () => {
    it('follows a blob redirect to storage without forwarding credentials', async () => {
      const storage = await listen((_request, _body, response) => {
        response.writeHead(200, { 'content-length': '2' });
        response.end();
      });
      servers.push(storage.server);
      const { registry, repo } = await start({
        auth: 'basic',
        basicUser: ['u', 'p'],
        intercept: (request, _body, response) => {
          if (request.method !== 'HEAD' || !request.headers.authorization) return false;
          response.writeHead(307, { location: `http://${storage.host}/bucket/blob?sig=1` });
          response.end();
          return true;
        },
      });
      const c = new RegistryClient({
        userAgent: 't',
        requestTimeoutMs: 5_000,
        insecureHosts: [registry.host, storage.host],
        credentials: new RegistryCredentials([[registry.host, RegistryCredential.basic('u', 'p')]]),
      });
      expect(await c.blobExists(repo, EMPTY_DIGEST)).toEqual({ exists: true, size: 2 });
      expect(storage.requests).toHaveLength(1);
      expect(storage.requests[0]!.authorization).toBeUndefined();
      expect(storage.requests[0]!.url).toBe('/bucket/blob?sig=1');
    });

    it('streams a blob through relative Locations, keeping the session query, and commits it', async () => {
      const { fake, registry, repo, client } = await start({ auth: 'none' });
      const chunks = [Buffer.from('abc'), Buffer.from('defg')];
      const result = await client().pushBlobStream(
        repo,
        (async function* () {
          yield* chunks;
        })(),
      );
      expect(result).toEqual({ digest: sha256Digest(Buffer.from('abcdefg')), size: 7 });
      expect(fake.blobs.get(result.digest)?.toString()).toBe('abcdefg');
      const [post, patch, put] = registry.requests;
      expect(post!.method).toBe('POST');
      expect(patch!.method).toBe('PATCH');
      expect(patch!.headers['content-type']).toBe('application/octet-stream');
      expect(patch!.headers['transfer-encoding']).toBe('chunked');
      expect(patch!.url).toMatch(/\?_state=s0$/);
      expect(put!.method).toBe('PUT');
      expect(put!.url).toMatch(new RegExp(`\\?_state=s7&digest=${encodeURIComponent(result.digest)}$`));
    });

    it("cancels with the session's latest state when onChunk throws, and rethrows the caller's error", async () => {
      const { fake, registry, repo, client } = await start({ auth: 'none' });
      const refusal = new Error('not a component');
      let chunks = 0;
      const error = await caught(
        client().pushBlobStream(
          repo,
          (async function* () {
            for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, i);
          })(),
          {
            onChunk: () => {
              if (++chunks === 4) throw refusal;
            },
          },
        ),
      );
      expect(error).toBe(refusal);
      const patch = registry.requests.find((r) => r.method === 'PATCH')!;
      // The body ended cleanly after the three accepted chunks: the registry saw exactly those bytes.
      expect(patch.body.length).toBe(3000);
      const cancel = registry.requests.find((r) => r.method === 'DELETE')!;
      expect(cancel.url).toMatch(/\?_state=s3000$/);
      expect(fake.uploads.size).toBe(0);
      expect(fake.blobs.size).toBe(0);
      expect(registry.requests.some((r) => r.method === 'PUT')).toBe(false);
    });

    it("rethrows the caller's abort reason from a streamed upload and cancels the session", async () => {
      const { fake, registry, repo, client } = await start({ auth: 'none' });
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const error = await caught(
        client().pushBlobStream(
          repo,
          (async function* () {
            yield Buffer.from('first');
            controller.abort(reason);
            await new Promise((resolve) => setTimeout(resolve, 50));
            yield Buffer.from('second');
          })(),
          { signal: controller.signal },
        ),
      );
      expect(error).toBe(reason);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(registry.requests.some((r) => r.method === 'DELETE')).toBe(true);
      expect(fake.blobs.size).toBe(0);
    });

    it('lets beforeCommit refuse a complete upload: cancelled, never committed', async () => {
      const { fake, registry, repo, client } = await start({ auth: 'none' });
      const seen: [number, string][] = [];
      const truncated = new Error('the upload ended after 5 of 9 bytes');
      const error = await caught(
        client().pushBlobStream(repo, Readable.from([Buffer.from('hello')]), {
          beforeCommit: (size, digest) => {
            seen.push([size, digest]);
            throw truncated;
          },
        }),
      );
      expect(error).toBe(truncated);
      expect(seen).toEqual([[5, sha256Digest(Buffer.from('hello'))]]);
      expect(registry.requests.map((r) => r.method)).toEqual(['POST', 'PATCH', 'DELETE']);
      expect(fake.uploads.size).toBe(0);
      expect(fake.blobs.size).toBe(0);
    });

    it('reports a redirected streamed upload clearly (its body cannot be resent)', async () => {
      const { registry, repo, client } = await start({
        auth: 'none',
        intercept: (request, _body, response) => {
          if (request.method !== 'PATCH') return false;
          response.writeHead(307, { location: request.url! });
          response.end();
          return true;
        },
      });
      const error = await caught(client().pushBlobStream(repo, Readable.from([Buffer.from('x')])));
      expect(error).toMatchObject({ code: 'REGISTRY_PROTOCOL_ERROR', transient: false });
      expect(error.message).toContain('streamed body cannot be sent again');
      expect(registry.requests.at(-1)!.method).toBe('DELETE');
    });

    it('accepts a refused commit when the registry already holds the blob', async () => {
      const content = Buffer.from('already there');
      const { fake, repo, client } = await start({
        auth: 'none',
        intercept: (request, _body, response) => {
          if (request.method !== 'PUT' || !request.url!.includes('/blobs/uploads/')) return false;
          registryErrors(response, 400, 'BLOB_UPLOAD_INVALID', 'blob exists');
          return true;
        },
      });
      fake.blobs.set(sha256Digest(content), content);
      expect(await client().pushBlobStream(repo, Readable.from([content]))).toEqual({ digest: sha256Digest(content), size: content.length });
    });

    it('cancels a streamed upload when the registry acknowledges fewer bytes than sent', async () => {
      const { fake, repo, client } = await start({
        auth: 'none',
        intercept: (request, _body, response) => {
          if (request.method !== 'PATCH') return false;
          response.writeHead(202, { location: request.url!, range: '0-1' });
          response.end();
          return true;
        },
      });
      const error = await caught(client().pushBlobStream(repo, Readable.from([Buffer.from('abcdef')])));
      expect(error).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', transient: true });
      expect(error.message).toContain('acknowledged 2 of 6 bytes');
      expect(fake.uploads.size).toBe(0);
    });
  });

  describe('reserved tags', () => {
    it('refuses to write a tag derived from a digest unless the write says it is one, before any request', async () => {
      const { fake, registry, repo, client } = await start({ auth: 'none' });
      const c = client();
      const manifest = manifestBytes(EMPTY_DIGEST);
      for (const tag of [`sha256-${'d'.repeat(64)}.sig`, `sha256-${'d'.repeat(64)}`, `sha256-${'d'.repeat(64)}.att`]) {
        await expect(c.putManifest(repo, tag, OCI_MANIFEST_MEDIA_TYPE, manifest)).rejects.toMatchObject({ code: 'RESERVED_TAG', transient: false });
      }
      expect(registry.requests).toHaveLength(0);
      await c.putManifest(repo, `sha256-${'d'.repeat(64)}.sig`, OCI_MANIFEST_MEDIA_TYPE, manifest, { derivedTag: true });
      expect(fake.tags.has(`ns/comp:sha256-${'d'.repeat(64)}.sig`)).toBe(true);
    });
  });

  describe('referrers', () => {
    const subject = manifestBytes(EMPTY_DIGEST);
    const subjectDigest = sha256Digest(subject);
    const referrer = (n: number, artifactType: string) =>
      manifestBytes(EMPTY_DIGEST, {
        artifactType,
        annotations: { n: String(n) },
        subject: { mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: subjectDigest, size: subject.length },
      });

    it('uses the referrers API when the registry has one (OCI-Subject, Link pagination)', async () => {
      const { fake, repo, client } = await start({ auth: 'none', referrersApi: true });
      const c = client();
      const first = referrer(1, 'application/x.one');
      const second = referrer(2, 'application/x.two');
      expect(await c.attachReferrer(repo, { manifestBytes: first, mediaType: OCI_MANIFEST_MEDIA_TYPE, subjectDigest })).toEqual({
        digest: sha256Digest(first),
        size: first.length,
        source: 'referrers-api',
      });
      await c.attachReferrer(repo, { manifestBytes: second, mediaType: OCI_MANIFEST_MEDIA_TYPE, subjectDigest });
      expect(fake.tags.size).toBe(0);
      const all = await c.listReferrers(repo, subjectDigest);
      expect(all.source).toBe('referrers-api');
      expect(all.index.manifests.map((m) => m.digest)).toEqual([sha256Digest(first), sha256Digest(second)]);
      const filtered = await c.listReferrers(repo, subjectDigest, { artifactType: 'application/x.two' });
      expect(filtered.index.manifests.map((m) => m.digest)).toEqual([sha256Digest(second)]);
    });

    it('re-reads the fallback index and retries when a concurrent writer wins (412)', async () => {
      let interfered = false;
      const other = { mediaType: OCI_MANIFEST_MEDIA_TYPE, size: 1, digest: `sha256:${'c'.repeat(64)}`, artifactType: 'application/x.other' };
      const fakeRef: { fake?: FakeRegistry } = {};
      const { fake, repo, client } = await start({
        auth: 'none',
        conditionalPut: true,
        intercept: (request, _body, response) => {
          // Just before our first index write lands, another writer replaces the index.
          if (interfered || request.method !== 'PUT' || !request.url!.includes('/manifests/sha256-')) return false;
          interfered = true;
          const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX_MEDIA_TYPE, manifests: [other] }));
          const digest = sha256Digest(index);
          fakeRef.fake!.manifests.set(`ns/comp@${digest}`, { mediaType: OCI_INDEX_MEDIA_TYPE, bytes: index });
          fakeRef.fake!.tags.set(`ns/comp:sha256-${subjectDigest.slice(7)}`, digest);
          registryErrors(response, 412, 'PRECONDITION_FAILED', 'etag mismatch');
          return true;
        },
      });
      fakeRef.fake = fake;
      const c = client();
      const mine = referrer(1, 'application/x.mine');
      expect((await c.attachReferrer(repo, { manifestBytes: mine, mediaType: OCI_MANIFEST_MEDIA_TYPE, subjectDigest })).source).toBe('tag-fallback');
      const listed = await c.listReferrers(repo, subjectDigest);
      expect(listed.source).toBe('tag-fallback');
      expect(listed.index.manifests.map((m) => m.digest)).toEqual([other.digest, sha256Digest(mine)]);
    });

    it('refuses a referrer whose subject is not the one named, and a fallback tag that is not an index', async () => {
      const { fake, repo, client } = await start({ auth: 'none' });
      const c = client();
      const wrongSubject = `sha256:${'d'.repeat(64)}`;
      await expect(c.attachReferrer(repo, { manifestBytes: referrer(1, 'application/x'), mediaType: OCI_MANIFEST_MEDIA_TYPE, subjectDigest: wrongSubject })).rejects.toMatchObject({
        code: 'INVALID_REFERRER',
      });
      const image = manifestBytes(EMPTY_DIGEST);
      fake.manifests.set(`ns/comp@${sha256Digest(image)}`, { mediaType: OCI_MANIFEST_MEDIA_TYPE, bytes: image });
      fake.tags.set(`ns/comp:sha256-${subjectDigest.slice(7)}`, sha256Digest(image));
      await expect(c.listReferrers(repo, subjectDigest)).rejects.toMatchObject({ code: 'REFERRERS_TAG_INVALID' });
    });
  });
});
