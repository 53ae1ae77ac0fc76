import { Readable } from 'node:stream';
import type { Caller } from '../access/caller';
import { RepositoryPatterns } from '../access/repository-patterns';
import {
  type AuditRequest,
  auditOutcome,
  boundedText,
  describeCredential,
  needsEntryBeforeHandler,
  needsEntryForResponse,
  requestEntry,
  requestTarget,
  responseEntry,
} from './audit-entry';
import { newApiKey } from './api-key-token';
import { bootstrapCaller } from './caller-authenticator';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>) =>
  `${base64url({ alg: 'ES256', kid: 'k1' })}.${base64url(claims)}.${Buffer.from('signature-bytes-0123456789').toString('base64url')}`;

const apiKeyCaller: Caller = {
  principal: 'api-key:6f1c2b9e-7d4a-4e2f-9b1a-0c5d6e7f8a9b',
  identity: { kind: 'api-key', keyId: '6f1c2b9e-7d4a-4e2f-9b1a-0c5d6e7f8a9b', name: 'ci-hello-http' },
  scopes: new Set(['artifacts:write']),
  repositories: RepositoryPatterns.parse(['registry.example.com/team/**']),
};

const oidcCaller: Caller = {
  principal: 'oidc:https://token.actions.githubusercontent.com#repo:org/app:ref:refs/heads/main',
  identity: {
    kind: 'oidc',
    issuer: 'https://token.actions.githubusercontent.com',
    subject: 'repo:org/app:ref:refs/heads/main',
    rule: 'github-main',
    claims: { repository: 'org/app', ref: 'refs/heads/main' },
  },
  scopes: new Set(['signatures:write']),
  repositories: RepositoryPatterns.ANY,
};

function request(overrides: Partial<AuditRequest> = {}): AuditRequest {
  return {
    method: 'POST',
    url: '/v1/signatures',
    route: '/v1/signatures',
    requestId: 'req-1',
    sourceAddress: '192.0.2.10',
    authorization: undefined,
    caller: undefined,
    params: {},
    query: {},
    body: undefined,
    notedTarget: undefined,
    ...overrides,
  };
}

describe('which requests the audit log records', () => {
  it.each([
    ['POST', '/v1/artifacts', '/v1/artifacts', 202, true, true],
    ['DELETE', '/v1/api-keys/abc', '/v1/api-keys/:id', 404, true, true],
    ['PUT', '/v1/x', '/v1/x', 200, true, true],
    ['PATCH', '/v1/x', '/v1/x', 400, true, true],
    ['POST', '/v1/signatures', '/v1/signatures', 401, true, true],
    ['GET', '/v1/signatures', '/v1/signatures', 200, false, false],
    ['GET', '/v1/signatures?limit=5', '/v1/signatures', 401, false, true],
    ['HEAD', '/v1/jobs/1', '/v1/jobs/:id', 403, false, true],
    ['GET', '/v1/jobs/1', '/v1/jobs/:id', 429, false, true],
    ['GET', '/v1/jobs/1', '/v1/jobs/:id', 404, false, false],
    // No route matched: nothing could change, and no route names it.
    ['POST', '/v1/no-such-thing', undefined, 404, false, false],
    // Outside /v1 (health, metrics, documents): never.
    ['POST', '/health/live', '/health/live', 401, false, false],
    ['GET', '/metrics', '/metrics', 401, false, false],
  ] as const)('%s %s (route %s) answered %i: before the handler %s, for the response %s', (method, url, route, status, before, response) => {
    expect(needsEntryBeforeHandler(method, url, route)).toBe(before);
    expect(needsEntryForResponse(method, url, route, status)).toBe(response);
  });

  it.each([
    [200, 'succeeded'],
    [201, 'succeeded'],
    [202, 'succeeded'],
    [204, 'succeeded'],
    [401, 'refused'],
    [403, 'refused'],
    [429, 'refused'],
    [400, 'failed'],
    [404, 'failed'],
    [422, 'failed'],
    [500, 'failed'],
    [503, 'failed'],
  ] as const)('status %i is %s', (status, outcome) => {
    expect(auditOutcome(status)).toBe(outcome);
  });
});

describe('describeCredential: what an unauthenticated request presented', () => {
  it('says whether there was none, or it was not a bearer credential', () => {
    expect(describeCredential(undefined)).toEqual({ kind: 'none' });
    expect(describeCredential('  ')).toEqual({ kind: 'none' });
    expect(describeCredential('Basic dXNlcjpwYXNzd29yZA==')).toEqual({ kind: 'malformed' });
    expect(describeCredential('Bearer')).toEqual({ kind: 'malformed' });
    expect(describeCredential(`Bearer ${'a'.repeat(8193)}`)).toEqual({ kind: 'malformed' });
  });

  it('keeps only the hint of an API key, as key listings show it', () => {
    const key = newApiKey();
    expect(describeCredential(`Bearer ${key}`)).toEqual({ kind: 'api-key', keyHint: key.slice(0, 8) });
    expect(describeCredential(['Bearer ' + key, 'Bearer other'])).toEqual({ kind: 'api-key', keyHint: key.slice(0, 8) });
    // Not one this service could have issued: not even a hint.
    expect(describeCredential('Bearer wsk_short')).toEqual({ kind: 'api-key' });
  });

  it("keeps only a token's claimed issuer, bounded and without control characters", () => {
    expect(describeCredential(`Bearer ${jwt({ iss: 'https://token.actions.githubusercontent.com', sub: 'repo:org/app' })}`)).toEqual({
      kind: 'oidc-token',
      unverifiedIssuer: 'https://token.actions.githubusercontent.com',
    });
    expect(describeCredential(`Bearer ${jwt({ iss: `https://evil.example/\n${'x'.repeat(2000)}` })}`).unverifiedIssuer).toMatch(/^https:\/\/evil\.example\/\ufffdx+…$/);
    expect(describeCredential(`Bearer ${jwt({ sub: 'no issuer' })}`)).toEqual({ kind: 'oidc-token' });
    expect(describeCredential(`Bearer ${jwt({ iss: 42 })}`)).toEqual({ kind: 'oidc-token' });
    expect(describeCredential('Bearer bm90.anNvbg.c2ln')).toEqual({ kind: 'oidc-token' });
  });

  it('keeps nothing of another bearer credential (a wrong bootstrap key, say)', () => {
    expect(describeCredential('Bearer not-the-bootstrap-admin-key-0123456789')).toEqual({ kind: 'unrecognised' });
  });
});

describe('an entry never holds a credential', () => {
  const apiKey = newApiKey();
  const token = jwt({ iss: 'https://issuer.example', sub: 'workload', aud: 'wasm-signer' });
  const bootstrapKey = 'test-bootstrap-admin-key-0123456789abcdef';
  const webhookSecret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const credentials = [apiKey, token, bootstrapKey];
  const fragments = [apiKey.slice(8), ...token.split('.'), bootstrapKey.slice(4)];

  const cases: [string, Partial<AuditRequest>][] = [
    ['an unknown API key', { authorization: `Bearer ${apiKey}` }],
    ['a token nobody trusts', { authorization: `bearer ${token}` }],
    ['a wrong bootstrap key', { authorization: `Bearer ${bootstrapKey}` }],
    ['the bootstrap key, authenticated', { authorization: `Bearer ${bootstrapKey}`, caller: bootstrapCaller() }],
    ['an API key, authenticated', { authorization: `Bearer ${apiKey}`, caller: apiKeyCaller }],
    ['a token, authenticated', { authorization: `Bearer ${token}`, caller: oidcCaller }],
  ];

  it.each(cases)('%s', (_name, overrides) => {
    const creation = request({
      ...overrides,
      url: `/v1/webhooks?access_token=${apiKey}`,
      route: '/v1/webhooks',
      body: { url: `https://hooks.example/services/${webhookSecret}`, events: ['job.failed'], secret: webhookSecret, authorization: `Bearer ${apiKey}` },
    });
    const entries = [
      requestEntry(creation, 'Webhooks_create'),
      responseEntry(creation, 'Webhooks_create', {
        status: 201,
        contentType: 'application/json; charset=utf-8',
        payload: JSON.stringify({ id: '5b0e6f1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b', secret: webhookSecret, key: apiKey }),
      }),
      responseEntry(creation, 'Webhooks_create', {
        status: 401,
        contentType: 'application/problem+json',
        payload: JSON.stringify({ code: 'API_KEY_INVALID', detail: `key ${apiKey} is unknown` }),
      }),
    ];
    for (const entry of entries) {
      const text = JSON.stringify(entry);
      for (const secret of [...credentials, ...fragments, webhookSecret]) expect(text).not.toContain(secret);
    }
    expect(entries[1]!.target.id).toBe('5b0e6f1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(entries[1]!.path).toBe('/v1/webhooks');
  });
});

describe('who', () => {
  it('names an authenticated API key caller by id and name, with no credential description', () => {
    const entry = requestEntry(request({ authorization: 'Bearer wsk_whatever', caller: apiKeyCaller }), 'Signatures_sign');
    expect(entry).toMatchObject({
      callerPrincipal: 'api-key:6f1c2b9e-7d4a-4e2f-9b1a-0c5d6e7f8a9b',
      caller: { kind: 'api-key', keyId: '6f1c2b9e-7d4a-4e2f-9b1a-0c5d6e7f8a9b', name: 'ci-hello-http' },
      credential: null,
    });
  });

  it('names an OIDC caller by issuer, subject and rule, without the claims', () => {
    const entry = requestEntry(request({ caller: oidcCaller }), 'Signatures_sign');
    expect(entry.callerPrincipal).toBe(oidcCaller.principal);
    expect(entry.caller).toEqual({ kind: 'oidc', issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:org/app:ref:refs/heads/main', rule: 'github-main' });
  });

  it('describes the credential when no caller was authenticated', () => {
    const entry = requestEntry(request({ authorization: undefined }), 'Signatures_sign');
    expect(entry).toMatchObject({ callerPrincipal: null, caller: null, credential: { kind: 'none' } });
  });
});

describe('what and which target', () => {
  it('takes a reference from the body: as given, and its repository canonical', () => {
    expect(requestTarget(request({ body: { reference: 'Registry.Example.com:443/team/app:v1' } }))).toEqual({
      repository: 'registry.example.com/team/app',
      reference: 'Registry.Example.com:443/team/app:v1',
      id: null,
    });
  });

  it('takes an upload repository from the query, and a noted one over it', () => {
    expect(requestTarget(request({ query: { repository: '127.0.0.1:5000/demo/app', tag: 'v1', callbackUrl: 'https://ci.example/hook?token=s3cret' } }))).toEqual({
      repository: '127.0.0.1:5000/demo/app',
      reference: '127.0.0.1:5000/demo/app',
      id: null,
    });
    expect(requestTarget(request({ query: { repository: 'a.example/x' }, notedTarget: { repository: 'b.example/y' } })).repository).toBe('b.example/y');
  });

  it("reads Fastify's query and parameter objects, whose prototypes are not Object's", () => {
    const query = Object.assign(Object.create(Object.create(null) as object) as object, { repository: 'a.example/x' });
    const params = Object.assign(Object.create(null) as object, { id: 'k1' });
    expect(requestTarget(request({ query, params }))).toEqual({ repository: 'a.example/x', reference: 'a.example/x', id: 'k1' });
  });

  it("takes the resource id from the route's parameters", () => {
    expect(requestTarget(request({ params: { id: 'e1c3', deliveryId: 'd2' } })).id).toBe('e1c3');
  });

  it('reads no stream, and nothing but strings', () => {
    const stream = Readable.from([Buffer.from('\0asm')]);
    Object.assign(stream, { repository: 'a.example/from-a-stream' });
    expect(requestTarget(request({ body: stream }))).toEqual({ repository: null, reference: null, id: null });
    expect(requestTarget(request({ body: { reference: ['a.example/x:1'] }, query: { repository: ['a', 'b'] }, params: { id: 7 } }))).toEqual({
      repository: null,
      reference: null,
      id: null,
    });
  });

  it('keeps an invalid reference as given, bounded, without a repository', () => {
    const target = requestTarget(request({ body: { reference: `NOT A REFERENCE\u0000${'x'.repeat(5000)}` } }));
    expect(target.repository).toBeNull();
    expect(target.reference).toHaveLength(512);
    expect(target.reference).toMatch(/^NOT A REFERENCE\ufffdx+…$/);
  });

  it('records method, route, path without its query, action, request id and source address', () => {
    const entry = requestEntry(
      request({ method: 'delete', url: '/v1/api-keys/3f1c?x=1', route: '/v1/api-keys/:id', params: { id: '3f1c' }, requestId: 'audit-req-7', sourceAddress: '::1' }),
      'ApiKeys_revoke',
    );
    expect(entry).toMatchObject({
      method: 'DELETE',
      route: '/v1/api-keys/:id',
      path: '/v1/api-keys/3f1c',
      action: 'ApiKeys_revoke',
      requestId: 'audit-req-7',
      sourceAddress: '::1',
      target: { id: '3f1c' },
      outcome: 'pending',
      status: null,
      problemCode: null,
    });
  });
});

describe('the outcome', () => {
  it("takes a problem's code, and the repository a REPOSITORY_NOT_ALLOWED problem names", () => {
    const entry = responseEntry(request(), 'Signatures_sign', {
      status: 403,
      contentType: 'application/problem+json',
      payload: JSON.stringify({ status: 403, code: 'REPOSITORY_NOT_ALLOWED', repository: 'other.example/secret' }),
    });
    expect(entry).toMatchObject({ outcome: 'refused', status: 403, problemCode: 'REPOSITORY_NOT_ALLOWED', target: { repository: 'other.example/secret' } });
  });

  it('reads a code only from a problem document, and only a code-shaped one', () => {
    expect(responseEntry(request(), 'a', { status: 500, contentType: 'text/plain', payload: '{"code":"X_Y"}' }).problemCode).toBeNull();
    expect(responseEntry(request(), 'a', { status: 400, contentType: 'application/problem+json', payload: '{"code":"bad code\\n"}' }).problemCode).toBeNull();
    expect(responseEntry(request(), 'a', { status: 400, contentType: 'application/problem+json', payload: Buffer.from('{"code":"VALIDATION_FAILED"}') }).problemCode).toBe(
      'VALIDATION_FAILED',
    );
    expect(responseEntry(request(), 'a', { status: 400, contentType: 'application/problem+json', payload: 'not json' })).toMatchObject({ outcome: 'failed', problemCode: null });
  });

  it("takes the created resource's id from a success, never from an error, and keeps the route's id first", () => {
    const created = { status: 202, contentType: 'application/json', payload: JSON.stringify({ id: 'job-1', type: 'publish' }) };
    expect(responseEntry(request(), 'Signatures_sign', created).target.id).toBe('job-1');
    expect(responseEntry(request({ params: { id: 'wh-1' } }), 'Webhooks_rotateSecret', created).target.id).toBe('wh-1');
    expect(responseEntry(request(), 'a', { status: 409, contentType: 'application/problem+json', payload: '{"id":"x","code":"CONFLICT"}' }).target.id).toBeNull();
    expect(responseEntry(request(), 'a', { status: 201, contentType: 'application/json', payload: JSON.stringify({ id: 'a b' }) }).target.id).toBeNull();
    expect(responseEntry(request(), 'a', { status: 204, contentType: undefined, payload: '' }).outcome).toBe('succeeded');
  });
});

describe('boundedText', () => {
  it('replaces control characters and lone surrogates, cuts with an ellipsis, and never splits a pair', () => {
    expect(boundedText('a\u0000b\u001bc\u007fd\u0085', 100)).toBe('a\ufffdb\ufffdc\ufffdd\ufffd');
    expect(boundedText('x\ud800y\udc00', 100)).toBe('x\ufffdy\ufffd');
    expect(boundedText('abcdef', 4)).toBe('abc…');
    expect(boundedText('ab😀cdef', 4)).toBe('ab…');
    expect(boundedText('😀', 4)).toBe('😀');
  });
});
