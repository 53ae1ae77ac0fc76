import { CodedError } from '../common/coded-error';
import { RegistryError, RegistryRequestContext, parseRegistryErrorBody, registryErrorFromNetworkFailure, registryErrorFromStatus, registryTimeoutError } from './registry-error';

const context = (credentialsConfigured = false): RegistryRequestContext => ({
  registry: 'registry.example.com',
  repository: 'ns/comp',
  operation: 'PUT manifest v1',
  credentialsConfigured,
});

const body = (...errors: { code: string; message?: string }[]) => JSON.stringify({ errors });
const classify = (status: number, text = '', headers: Record<string, string> = {}, configured = false) =>
  registryErrorFromStatus(context(configured), status, new Headers(headers), text, Date.parse('2026-01-01T00:00:00Z'));

describe('registryErrorFromStatus', () => {
  it.each([
    [401, '', 'REGISTRY_UNAUTHORIZED', false],
    [403, body({ code: 'DENIED', message: 'requested access to the resource is denied' }), 'REGISTRY_FORBIDDEN', false],
    [404, body({ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }), 'REPOSITORY_NOT_FOUND', false],
    [404, body({ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }), 'MANIFEST_NOT_FOUND', false],
    [404, '404 page not found', 'REGISTRY_REJECTED', false],
    [400, body({ code: 'MANIFEST_INVALID', message: 'manifest invalid' }), 'REGISTRY_REJECTED', false],
    [405, body({ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }), 'REGISTRY_REJECTED', false],
    [413, '', 'REGISTRY_REJECTED', false],
    [412, '', 'REGISTRY_PRECONDITION_FAILED', true],
    [
      400,
      JSON.stringify({
        errors: [
          { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' },
          { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry' },
        ],
      }),
      'REGISTRY_BLOB_NOT_VISIBLE',
      true,
    ],
    [408, '', 'REGISTRY_UNAVAILABLE', true],
    [429, body({ code: 'TOOMANYREQUESTS' }), 'REGISTRY_THROTTLED', true],
    [500, '', 'REGISTRY_UNAVAILABLE', true],
    [502, '<html>bad gateway</html>', 'REGISTRY_UNAVAILABLE', true],
    [503, '', 'REGISTRY_UNAVAILABLE', true],
  ])('HTTP %i %s → %s', (status, text, code, transient) => {
    const error = classify(status, text);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toBeInstanceOf(CodedError);
    expect(error.code).toBe(code);
    expect(error.transient).toBe(transient);
    expect(error.status).toBe(status);
    expect(error.message).toContain('registry.example.com');
    expect(error.message).toContain(`HTTP ${status}`);
  });

  it("quotes the registry's error codes and messages", () => {
    const error = classify(400, body({ code: 'MANIFEST_INVALID', message: 'manifest invalid' }));
    expect(error.message).toBe('Registry registry.example.com rejected PUT manifest v1 on registry.example.com/ns/comp (HTTP 400: MANIFEST_INVALID manifest invalid).');
    expect(error.details).toEqual([{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }]);
  });

  it('says whether credentials were configured on 401 and 403', () => {
    expect(classify(401).message).toBe(
      'Registry registry.example.com requires authentication for repository ns/comp (PUT manifest v1: HTTP 401); no credentials are configured for registry.example.com.',
    );
    expect(classify(401, '', {}, true).message).toContain('the credentials configured for registry.example.com were not accepted');
    expect(classify(403, '', {}, true).message).toContain('the credentials configured for registry.example.com lack permission');
    expect(classify(403).message).toContain('no credentials are configured for registry.example.com');
  });

  it('honours Retry-After in seconds or as a date on 429 and 5xx', () => {
    expect(classify(429, '', { 'retry-after': '12' }).retryAfterMs).toBe(12_000);
    expect(classify(429, '', { 'retry-after': '12' }).message).toContain('retry after 12 s');
    expect(classify(503, '', { 'retry-after': 'Thu, 01 Jan 2026 00:01:00 GMT' }).retryAfterMs).toBe(60_000);
    expect(classify(503).retryAfterMs).toBeUndefined();
    expect(classify(400, '', { 'retry-after': '5' }).retryAfterMs).toBeUndefined();
  });
});

describe('parseRegistryErrorBody', () => {
  it('keeps code and message, bounded, ignoring detail and junk', () => {
    expect(parseRegistryErrorBody(JSON.stringify({ errors: [{ code: 'A', message: 'x'.repeat(500), detail: { secret: 1 } }, { nope: 1 }, { code: 'B' }] }))).toEqual([
      { code: 'A', message: `${'x'.repeat(200)}…` },
      { code: 'B' },
    ]);
    expect(parseRegistryErrorBody('not json')).toEqual([]);
    expect(parseRegistryErrorBody('null')).toEqual([]);
    expect(parseRegistryErrorBody('{"errors":"x"}')).toEqual([]);
  });
});

const fetchFailure = (cause: unknown) => new TypeError('fetch failed', { cause });
const systemError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('registryErrorFromNetworkFailure', () => {
  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5000'],
    ['ECONNRESET', 'read ECONNRESET'],
    ['ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.1:443'],
    ['UND_ERR_CONNECT_TIMEOUT', 'Connect Timeout Error'],
    ['UND_ERR_SOCKET', 'other side closed'],
  ])('%s is transient REGISTRY_UNREACHABLE', (code, message) => {
    const error = registryErrorFromNetworkFailure(context(), fetchFailure(systemError(code, message)));
    expect(error.code).toBe('REGISTRY_UNREACHABLE');
    expect(error.transient).toBe(true);
    expect(error.message).toContain('Cannot reach registry registry.example.com (PUT manifest v1)');
    expect(error.message).toContain(code);
  });

  it.each([
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND registry.example.com'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN registry.example.com'],
  ])('%s is transient REGISTRY_DNS_FAILURE', (code, message) => {
    const error = registryErrorFromNetworkFailure(context(), fetchFailure(systemError(code, message)));
    expect(error.code).toBe('REGISTRY_DNS_FAILURE');
    expect(error.transient).toBe(true);
    expect(error.message).toContain('Cannot resolve the host of registry registry.example.com (PUT manifest v1)');
    expect(error.message).toContain(code);
  });

  it('makes a port fetch refuses to use permanent REGISTRY_PORT_BLOCKED', () => {
    const error = registryErrorFromNetworkFailure(context(), fetchFailure(new Error('bad port')));
    expect(error).toMatchObject({ code: 'REGISTRY_PORT_BLOCKED', transient: false });
    expect(error.message).toContain('registry registry.example.com');
  });

  it('looks into AggregateErrors (happy eyeballs)', () => {
    const error = registryErrorFromNetworkFailure(
      context(),
      fetchFailure(new AggregateError([systemError('ECONNREFUSED', 'connect ECONNREFUSED ::1:5000'), systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5000')])),
    );
    expect(error.code).toBe('REGISTRY_UNREACHABLE');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it.each([
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'],
    ['CERT_HAS_EXPIRED', 'certificate has expired'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"],
    ['EPROTO', 'SSL routines:ssl3_read_bytes:tlsv1 alert protocol version'],
  ])('%s is permanent REGISTRY_TLS_ERROR', (code, message) => {
    const error = registryErrorFromNetworkFailure(context(), fetchFailure(systemError(code, message)));
    expect(error.code).toBe('REGISTRY_TLS_ERROR');
    expect(error.transient).toBe(false);
    expect(error.message).toContain('TLS connection to registry registry.example.com failed');
  });

  it('suggests the insecure list when the registry speaks plain http', () => {
    const error = registryErrorFromNetworkFailure(context(), fetchFailure(systemError('ERR_SSL_WRONG_VERSION_NUMBER', 'error:0A00010B:SSL routines::wrong version number')));
    expect(error.code).toBe('REGISTRY_TLS_ERROR');
    expect(error.message).toContain('list registry.example.com in the insecure registry hosts');
  });

  it('makes timeouts transient REGISTRY_TIMEOUT', () => {
    const error = registryTimeoutError(context(), 2500);
    expect(error.code).toBe('REGISTRY_TIMEOUT');
    expect(error.transient).toBe(true);
    expect(error.message).toContain('did not answer within 2500 ms');
  });
});
