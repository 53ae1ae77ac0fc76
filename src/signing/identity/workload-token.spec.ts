import { IdentityTokenError } from './identity-errors';
import { checkWorkloadToken, redactTokens, SIGSTORE_AUDIENCE } from './workload-token';

const NOW = new Date('2026-01-01T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;

const b64url = (text: string): string => Buffer.from(text).toString('base64url');

/** A JWT with the given payload (any JSON text); header and signature are never looked at. */
const jwtWithPayload = (payloadJson: string): string => `${b64url('{"alg":"RS256","kid":"k1"}')}.${b64url(payloadJson)}.${b64url('signature-bytes')}`;
const jwt = (claims: Record<string, unknown>): string => jwtWithPayload(JSON.stringify(claims));

const goodClaims = {
  iss: 'https://kubernetes.default.svc.cluster.local',
  sub: 'system:serviceaccount:apps:signer',
  aud: ['sigstore'],
  exp: NOW_SECONDS + 600,
  iat: NOW_SECONDS - 60,
};

/** The IdentityTokenError thrown by fn, failing the test when it throws nothing or something else. */
function stepErrorOf(fn: () => unknown): IdentityTokenError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(IdentityTokenError);
    return error as IdentityTokenError;
  }
  throw new Error('expected a IdentityTokenError, nothing was thrown');
}

describe('checkWorkloadToken', () => {
  it('returns the claims of a usable token', () => {
    expect(SIGSTORE_AUDIENCE).toBe('sigstore');
    expect(checkWorkloadToken(jwt(goodClaims), NOW)).toEqual({
      iss: 'https://kubernetes.default.svc.cluster.local',
      sub: 'system:serviceaccount:apps:signer',
      aud: ['sigstore'],
      exp: NOW_SECONDS + 600,
    });
  });

  it('accepts aud as a single string or as an array containing sigstore', () => {
    expect(checkWorkloadToken(jwt({ ...goodClaims, aud: 'sigstore' }), NOW).aud).toEqual(['sigstore']);
    expect(checkWorkloadToken(jwt({ ...goodClaims, aud: ['https://kubernetes.default.svc', 'sigstore'] }), NOW).aud).toEqual(['https://kubernetes.default.svc', 'sigstore']);
  });

  it('tolerates surrounding whitespace (a token file ends with a newline) and a missing sub', () => {
    const { sub: _sub, ...withoutSub } = goodClaims;
    expect(checkWorkloadToken(`  ${jwt(withoutSub)}\n`, NOW)).toMatchObject({ sub: '', iss: goodClaims.iss });
  });

  it('refuses a token without the sigstore audience, permanently, naming the audience', () => {
    for (const aud of ['https://kubernetes.default.svc', ['api', 'vault'], undefined, [], 'Sigstore']) {
      const error = stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, aud }), NOW));
      expect(error.code).toBe('IDENTITY_TOKEN_WRONG_AUDIENCE');
      expect(error.transient).toBe(false);
      expect(error.message).toContain('"sigstore"');
    }
    const error = stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, aud: ['api', 'vault'] }), NOW));
    expect(error.message).toContain('["api","vault"]');
  });

  it('reports an expired token as transient (a rotated token file brings a fresh one)', () => {
    const error = stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS - 90 }), NOW));
    expect(error.code).toBe('IDENTITY_TOKEN_EXPIRED');
    expect(error.transient).toBe(true);
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.message).toContain('expired 90 s ago');
    expect(error.message).toContain('2026-01-01T11:58:30.000Z');

    // Expiring exactly now is expired too.
    expect(stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS }), NOW)).code).toBe('IDENTITY_TOKEN_EXPIRED');
  });

  it('refuses a token about to expire within the margin, and accepts one just beyond it', () => {
    const soon = stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS + 20 }), NOW));
    expect(soon.code).toBe('IDENTITY_TOKEN_EXPIRED');
    expect(soon.transient).toBe(true);
    expect(soon.message).toContain('expires in 20 s');

    // Default margin is 30 s: 30 left is too few, 31 is enough.
    expect(stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS + 30 }), NOW)).code).toBe('IDENTITY_TOKEN_EXPIRED');
    expect(checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS + 31 }), NOW).exp).toBe(NOW_SECONDS + 31);

    // The margin is a parameter.
    expect(checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS + 20 }), NOW, 10).exp).toBe(NOW_SECONDS + 20);
    expect(stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, exp: NOW_SECONDS + 200 }), NOW, 300)).code).toBe('IDENTITY_TOKEN_EXPIRED');
  });

  it('checks the audience before the expiry (a wrong audience is never retried)', () => {
    const error = stepErrorOf(() => checkWorkloadToken(jwt({ ...goodClaims, aud: 'other', exp: NOW_SECONDS - 10 }), NOW));
    expect(error.code).toBe('IDENTITY_TOKEN_WRONG_AUDIENCE');
  });

  describe('refuses a malformed token permanently', () => {
    const cases: [string, string, RegExp][] = [
      ['not three parts', 'opaque-access-token', /three dot-separated parts/],
      ['two parts', `${b64url('{}')}.${b64url(JSON.stringify(goodClaims))}`, /three dot-separated parts/],
      ['four parts', `${jwt(goodClaims)}.extra`, /three dot-separated parts/],
      ['empty', '', /three dot-separated parts/],
      ['payload not base64url JSON', 'eyJhbGciOiJSUzI1NiJ9.!!!not-base64!!!.c2ln', /not base64url-encoded JSON/],
      ['payload base64url of non-JSON', jwtWithPayload('iss=https://issuer'), /not base64url-encoded JSON/],
      ['payload JSON null', jwtWithPayload('null'), /not a JSON object/],
      ['payload a JSON string', jwtWithPayload('"sigstore"'), /not a JSON object/],
      ['payload a JSON array', jwtWithPayload('["sigstore"]'), /"iss"/],
      ['no iss', jwt({ ...goodClaims, iss: undefined }), /"iss"/],
      ['empty iss', jwt({ ...goodClaims, iss: '' }), /"iss"/],
      ['iss not a string', jwt({ ...goodClaims, iss: 42 }), /"iss"/],
      ['no exp', jwt({ ...goodClaims, exp: undefined }), /"exp"/],
      ['exp as a string', jwt({ ...goodClaims, exp: String(NOW_SECONDS + 600) }), /"exp"/],
    ];
    it.each(cases)('%s', (_name, token, why) => {
      const error = stepErrorOf(() => checkWorkloadToken(token, NOW));
      expect(error.code).toBe('IDENTITY_TOKEN_MALFORMED');
      expect(error.transient).toBe(false);
      expect(error.message).toMatch(why);
      expect(error.message).toMatch(/^the workload identity token is unusable: /);
    });
  });

  it('never quotes the token in its error messages', () => {
    const tokens = [jwt({ ...goodClaims, aud: 'other' }), jwt({ ...goodClaims, exp: NOW_SECONDS - 5 }), jwt({ ...goodClaims, iss: undefined })];
    for (const token of tokens) {
      const error = stepErrorOf(() => checkWorkloadToken(token, NOW));
      expect(error.message).not.toContain(token.split('.')[1]!);
    }
  });
});

describe('redactTokens', () => {
  it('replaces JWT-shaped strings and keeps the surrounding text', () => {
    const token = jwt(goodClaims);
    expect(redactTokens(`Fulcio said: token ${token} is not valid`)).toBe('Fulcio said: token [redacted token] is not valid');
    expect(redactTokens(`a=${token}&b=${jwt({ ...goodClaims, sub: 'two' })}`)).toBe('a=[redacted token]&b=[redacted token]');
  });

  it('replaces unsigned JWTs (empty signature part) too', () => {
    const unsigned = `${b64url('{"alg":"none"}')}.${b64url('{"iss":"x"}')}.`;
    expect(redactTokens(`token "${unsigned}"`)).toBe('token "[redacted token]"');
  });

  it('leaves text without tokens alone', () => {
    const text = 'error creating signing certificate - (503) service unavailable; see https://fulcio.example/api/v2/signingCert';
    expect(redactTokens(text)).toBe(text);
    expect(redactTokens('version 1.2.3 of eyJ-nothing')).toBe('version 1.2.3 of eyJ-nothing');
  });
});
