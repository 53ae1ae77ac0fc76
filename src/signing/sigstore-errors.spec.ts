import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FulcioSigner, InternalError } from '@sigstore/sign';

import { CodedError } from '../common/coded-error';
import { IdentityTokenError } from './identity/identity-errors';
import { SigstoreError, toSigningStepError } from './sigstore-errors';

const b64url = (text: string): string => Buffer.from(text).toString('base64url');
const TOKEN = `${b64url('{"alg":"RS256"}')}.${b64url('{"iss":"https://issuer.example","sub":"workload","aud":"sigstore","exp":4102444800}')}.${b64url('sig')}`;

/** What sigstore-js throws: an InternalError with a code, wrapping an HTTPError (`statusCode`) when a service answered. */
const httpError = (status: number, message: string) => Object.assign(new Error(`(${status}) ${message}`), { statusCode: status });
const sigstoreError = (code: string, message: string, cause?: unknown) => new InternalError({ code: code as never, message, cause });

describe('toSigningStepError', () => {
  it('classifies Fulcio 401 and 403 as a permanent refusal of the identity token', () => {
    for (const status of [401, 403]) {
      const error = toSigningStepError(
        sigstoreError('CA_CREATE_SIGNING_CERTIFICATE_ERROR', `error creating signing certificate - (${status}) unauthorized`, httpError(status, 'unauthorized')),
      );
      expect(error).toBeInstanceOf(SigstoreError);
      expect(error.code).toBe('FULCIO_REFUSED_IDENTITY');
      expect(error.transient).toBe(false);
      expect(error.message).toContain(`HTTP ${status}`);
      expect(error.message).toContain('error creating signing certificate');
    }
  });

  it('accepts plain objects shaped like sigstore-js errors', () => {
    const error = toSigningStepError({ code: 'CA_CREATE_SIGNING_CERTIFICATE_ERROR', message: 'error creating signing certificate', cause: { statusCode: 401 } });
    expect(error).toMatchObject({ code: 'FULCIO_REFUSED_IDENTITY', transient: false });
  });

  it('classifies 5xx and 429 from each service as transient *_UNAVAILABLE', () => {
    const cases: [string, number, string][] = [
      ['CA_CREATE_SIGNING_CERTIFICATE_ERROR', 503, 'FULCIO_UNAVAILABLE'],
      ['CA_CREATE_SIGNING_CERTIFICATE_ERROR', 429, 'FULCIO_UNAVAILABLE'],
      ['TLOG_CREATE_ENTRY_ERROR', 500, 'REKOR_UNAVAILABLE'],
      ['TLOG_FETCH_ENTRY_ERROR', 502, 'REKOR_UNAVAILABLE'],
      ['TSA_CREATE_TIMESTAMP_ERROR', 504, 'TSA_UNAVAILABLE'],
      ['SOMETHING_NEW', 503, 'SIGSTORE_UNAVAILABLE'],
    ];
    for (const [code, status, expected] of cases) {
      const error = toSigningStepError(sigstoreError(code, 'failed', httpError(status, 'busy')));
      expect({ code: error.code, transient: error.transient }).toEqual({ code: expected, transient: true });
      expect(error.message).toContain(`answered HTTP ${status}`);
    }
    expect(toSigningStepError(sigstoreError('CA_CREATE_SIGNING_CERTIFICATE_ERROR', 'x', httpError(503, 'busy'))).message).toMatch(/^Fulcio answered HTTP 503/);
    expect(toSigningStepError(sigstoreError('TSA_CREATE_TIMESTAMP_ERROR', 'x', httpError(503, 'busy'))).message).toMatch(/^the timestamp authority answered HTTP 503/);
  });

  it("carries the service's Retry-After of a 429 or 503 as the step's retry delay, and says so", () => {
    const asked: string[] = [];
    const waits = (service: string) => (asked.push(service), service === 'tsa' ? 4_200 : undefined);
    const throttled = toSigningStepError(sigstoreError('TSA_CREATE_TIMESTAMP_ERROR', 'x', httpError(429, 'slow down')), waits);
    expect(throttled).toMatchObject({ code: 'TSA_UNAVAILABLE', transient: true, retryAfterMs: 4_200 });
    expect(throttled.message).toContain('retry after 5 s');
    // A service that gave no Retry-After (or one already past): the usual backoff.
    expect(toSigningStepError(sigstoreError('TLOG_CREATE_ENTRY_ERROR', 'x', httpError(503, 'busy')), waits).retryAfterMs).toBeUndefined();
    // A 500 is not an answer that asks the client to wait.
    expect(toSigningStepError(sigstoreError('TSA_CREATE_TIMESTAMP_ERROR', 'x', httpError(500, 'broken')), waits).retryAfterMs).toBeUndefined();
    expect(asked).toEqual(['tsa', 'rekor']);
  });

  it('classifies an error without an HTTP status as transient *_UNREACHABLE', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5555'), { code: 'ECONNREFUSED' });
    const cases: [string, string][] = [
      ['CA_CREATE_SIGNING_CERTIFICATE_ERROR', 'FULCIO_UNREACHABLE'],
      ['TLOG_CREATE_ENTRY_ERROR', 'REKOR_UNREACHABLE'],
      ['TSA_CREATE_TIMESTAMP_ERROR', 'TSA_UNREACHABLE'],
      ['IDENTITY_TOKEN_READ_ERROR', 'IDENTITY_PROVIDER_UNREACHABLE'],
    ];
    for (const [code, expected] of cases) {
      const error = toSigningStepError(sigstoreError(code, 'request failed', new TypeError('fetch failed', { cause: refused })));
      expect({ code: error.code, transient: error.transient }).toEqual({ code: expected, transient: true });
      expect(error.message).toContain('could not be reached');
      expect(error.message).toContain('ECONNREFUSED');
    }
    const bare = toSigningStepError(new Error('socket hang up'));
    expect({ code: bare.code, transient: bare.transient }).toEqual({ code: 'SIGSTORE_UNREACHABLE', transient: true });
    expect(bare.message).toBe('Sigstore could not be reached: socket hang up');
  });

  it('classifies other 4xx answers as a permanent rejection by that service', () => {
    const rekor = toSigningStepError(sigstoreError('TLOG_CREATE_ENTRY_ERROR', 'error creating tlog entry', httpError(400, 'bad entry')));
    expect(rekor).toMatchObject({ code: 'REKOR_REJECTED', transient: false });
    expect(rekor.message).toBe('Rekor rejected the request (HTTP 400): error creating tlog entry: (400) bad entry');

    const fulcio = toSigningStepError(sigstoreError('CA_CREATE_SIGNING_CERTIFICATE_ERROR', 'x', httpError(400, 'bad CSR')));
    expect(fulcio).toMatchObject({ code: 'FULCIO_REJECTED', transient: false });

    // 401 from Rekor is not about the identity token.
    expect(toSigningStepError(sigstoreError('TLOG_CREATE_ENTRY_ERROR', 'x', httpError(401, 'no')))).toMatchObject({ code: 'REKOR_REJECTED', transient: false });
  });

  it('returns a CodedError found anywhere in the cause chain as it is', () => {
    const original = IdentityTokenError.permanent('IDENTITY_TOKEN_WRONG_AUDIENCE', 'audience is ["api"]');
    expect(toSigningStepError(original)).toBe(original);
    expect(toSigningStepError(sigstoreError('IDENTITY_TOKEN_READ_ERROR', 'error retrieving identity token', original))).toBe(original);
    const deeper = IdentityTokenError.transient('IDENTITY_TOKEN_EXPIRED', 'expired', 10_000);
    expect(toSigningStepError(sigstoreError('IDENTITY_TOKEN_READ_ERROR', 'outer', new Error('middle', { cause: deeper })))).toBe(deeper);
  });

  it('classifies a token sigstore-js cannot parse as permanent IDENTITY_TOKEN_MALFORMED, with the token redacted', () => {
    // sigstore-js quotes the whole token in this message.
    const error = toSigningStepError(sigstoreError('IDENTITY_TOKEN_PARSE_ERROR', `invalid identity token: ${TOKEN}`, new Error('JWT subject not found')));
    expect(error).toMatchObject({ code: 'IDENTITY_TOKEN_MALFORMED', transient: false });
    expect(error.message).toContain('JWT subject not found');
    expect(error.message).toContain('[redacted token]');
    expect(error.message).not.toContain(TOKEN);
  });

  it('redacts a JWT quoted in any message of the chain', () => {
    const error = toSigningStepError(
      sigstoreError('CA_CREATE_SIGNING_CERTIFICATE_ERROR', `error creating signing certificate for ${TOKEN}`, httpError(401, `token ${TOKEN} rejected`)),
    );
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).not.toContain(TOKEN.split('.')[1]!);
    expect(error.message).toBe(
      'Fulcio refused the workload identity token (HTTP 401): error creating signing certificate for [redacted token]: (401) token [redacted token] rejected',
    );
  });

  it('describes non-Error values', () => {
    expect(toSigningStepError('boom').message).toBe('Sigstore could not be reached: boom');
  });
});

/** The errors FulcioSigner itself throws, against a loopback Fulcio that answers `status`. */
describe('toSigningStepError with the errors @sigstore/sign throws', () => {
  let server: Server;
  let fulcioUrl: string;
  let status = 200;
  let requests = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests += 1;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: status, message: 'fake fulcio says no' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fulcioUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const signWith = async (token: string, baseUrl = fulcioUrl): Promise<CodedError> => {
    const signer = new FulcioSigner({ fulcioBaseURL: baseUrl, identityProvider: { getToken: async () => token }, retry: { retries: 0 }, timeout: 5_000 });
    try {
      await signer.sign(Buffer.from('payload'));
    } catch (error) {
      return toSigningStepError(error);
    }
    throw new Error('signing unexpectedly succeeded');
  };

  it('Fulcio 401 → FULCIO_REFUSED_IDENTITY, permanent, token redacted', async () => {
    status = 401;
    requests = 0;
    const error = await signWith(TOKEN);
    expect(requests).toBe(1);
    expect(error).toMatchObject({ code: 'FULCIO_REFUSED_IDENTITY', transient: false });
    expect(error.message).not.toContain(TOKEN);
  });

  it('Fulcio 503 → FULCIO_UNAVAILABLE, transient', async () => {
    status = 503;
    const error = await signWith(TOKEN);
    expect(error).toMatchObject({ code: 'FULCIO_UNAVAILABLE', transient: true });
  });

  it('Fulcio not listening → FULCIO_UNREACHABLE, transient', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await signWith(TOKEN, `http://127.0.0.1:${port}`);
    expect(error).toMatchObject({ code: 'FULCIO_UNREACHABLE', transient: true });
  });

  it('a token without a subject → IDENTITY_TOKEN_MALFORMED, permanent, before any request', async () => {
    requests = 0;
    const noSubject = `${b64url('{"alg":"RS256"}')}.${b64url('{"iss":"https://issuer.example","aud":"sigstore","exp":4102444800}')}.${b64url('sig')}`;
    const error = await signWith(noSubject);
    expect(requests).toBe(0);
    expect(error).toMatchObject({ code: 'IDENTITY_TOKEN_MALFORMED', transient: false });
    expect(error.message).not.toContain(noSubject);
  });

  it('an identity provider that fails with a CodedError → that error', async () => {
    const refused = IdentityTokenError.permanent('IDENTITY_TOKEN_REFUSED', 'the GitHub Actions OIDC answered HTTP 403');
    const signer = new FulcioSigner({ fulcioBaseURL: fulcioUrl, identityProvider: { getToken: () => Promise.reject(refused) } });
    await expect(signer.sign(Buffer.from('x')).catch(toSigningStepError)).resolves.toBe(refused);
  });
});
