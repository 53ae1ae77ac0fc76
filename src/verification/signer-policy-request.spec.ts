import type { Signer } from '@sigstore/verify';
import { generateKeyPairSync } from 'node:crypto';
import { ProblemError } from '../common/problem';
import { type SignerPolicy, checkSigner, checkSigningMaterial } from '../sigstore/signer-policy';
import { buildSignerPolicy } from './signer-policy-request';
import { BundleVerificationError } from '../sigstore/verification-error';

const IDENTITY = 'https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();

const problemOf = (input: unknown) => {
  try {
    buildSignerPolicy(input);
  } catch (error) {
    if (error instanceof ProblemError) return { status: error.status, code: error.code, detail: error.detail, field: error.extensions.field };
    throw error;
  }
  throw new Error('expected a problem');
};

const signer = (identity: string | undefined, issuer: string | undefined): Signer => ({
  key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
  identity: { subjectAlternativeName: identity, extensions: { issuer } },
});

const codeOf = (check: () => void) => {
  try {
    check();
  } catch (error) {
    if (error instanceof BundleVerificationError) return error.code;
    throw error;
  }
  return undefined;
};

describe('buildSignerPolicy', () => {
  it('reads an exact identity and issuer', () => {
    expect(buildSignerPolicy({ certificateIdentity: IDENTITY, certificateOidcIssuer: ISSUER })).toEqual({
      kind: 'certificate',
      identity: { kind: 'exact', value: IDENTITY },
      issuer: { kind: 'exact', value: ISSUER },
    });
  });

  it('reads regular expressions, anchored', () => {
    const policy = buildSignerPolicy({ certificateIdentityRegExp: 'https://github\\.com/.*', certificateOidcIssuerRegExp: 'https://token\\..*' });
    expect(policy).toMatchObject({ kind: 'certificate', identity: { kind: 'regexp', source: 'https://github\\.com/.*' } });
    if (policy.kind !== 'certificate' || policy.identity.kind !== 'regexp' || policy.issuer.kind !== 'regexp') throw new Error('unexpected policy');
    expect(policy.identity.regexp.test(IDENTITY)).toBe(true);
    expect(policy.identity.regexp.test(`evil:${IDENTITY}`)).toBe(false);
    expect(policy.issuer.regexp.test(ISSUER)).toBe(true);
  });

  it('mixes an exact identity with an issuer expression', () => {
    expect(buildSignerPolicy({ certificateIdentity: IDENTITY, certificateOidcIssuerRegExp: '.*' })).toMatchObject({
      identity: { kind: 'exact' },
      issuer: { kind: 'regexp' },
    });
  });

  it('reads a PEM public key', () => {
    expect(buildSignerPolicy({ publicKey: PEM })).toEqual({ kind: 'public-key', publicKeyPem: PEM });
  });

  it.each([
    ['not an object', 'x', 'INVALID_POLICY', /must be an object/],
    ['an array', [], 'INVALID_POLICY', /must be an object/],
    ['empty', {}, 'INVALID_POLICY', /certificateIdentity or policy.certificateIdentityRegExp is required/],
    ['no issuer', { certificateIdentity: IDENTITY }, 'INVALID_POLICY', /certificateOidcIssuer or policy.certificateOidcIssuerRegExp is required/],
    ['identity twice', { certificateIdentity: IDENTITY, certificateIdentityRegExp: '.*', certificateOidcIssuer: ISSUER }, 'INVALID_POLICY', /not both/],
    ['a key and an identity', { publicKey: PEM, certificateIdentity: IDENTITY }, 'INVALID_POLICY', /either policy.publicKey or/],
    ['a key that is not PEM', { publicKey: 'ssh-ed25519 AAAA' }, 'INVALID_POLICY', /PEM/],
    ['an unknown field', { certificateIdentity: IDENTITY, certificateOidcIssuer: ISSUER, subject: 'x' }, 'INVALID_POLICY', /unknown policy field\(s\): subject/],
    ['a number', { certificateIdentity: 7, certificateOidcIssuer: ISSUER }, 'INVALID_POLICY', /non-empty string/],
    ['an empty string', { certificateIdentity: '', certificateOidcIssuer: ISSUER }, 'INVALID_POLICY', /non-empty string/],
  ])('refuses %s with a 400', (_what, input, code, detail) => {
    const problem = problemOf(input);
    expect(problem).toMatchObject({ status: 400, code });
    expect(problem.detail).toMatch(detail);
  });

  it.each([
    ['a malformed expression', { certificateIdentityRegExp: '[a-', certificateOidcIssuer: ISSUER }, /^policy\.certificateIdentityRegExp: missing closing \]/],
    ['an escaping expression', { certificateIdentity: IDENTITY, certificateOidcIssuerRegExp: 'x)|(.*' }, /^policy\.certificateOidcIssuerRegExp: unexpected \)/],
    ['a backreference', { certificateIdentityRegExp: '(a)\\1', certificateOidcIssuer: ISSUER }, /\\1.*backreferences are not supported/],
    ['a lookahead', { certificateIdentityRegExp: '(?=https).*', certificateOidcIssuer: ISSUER }, /\(\?=.*lookahead/],
    ['a possessive quantifier', { certificateIdentityRegExp: 'a++', certificateOidcIssuer: ISSUER }, /\+\+.*possessive/],
    ['a pattern over the length limit', { certificateIdentityRegExp: 'a'.repeat(1025), certificateOidcIssuer: ISSUER }, /1025 characters, more than the 1024 allowed/],
  ])('refuses %s with a 422 naming the construct and the field', (_what, input, detail) => {
    const problem = problemOf(input);
    expect(problem).toMatchObject({ status: 422, code: 'INVALID_REGEXP', field: problem.detail!.split(':')[0] });
    expect(problem.field).toMatch(/^policy\.certificate(Identity|OidcIssuer)RegExp$/);
    expect(problem.detail).toMatch(detail);
  });
});

describe('checkSigner', () => {
  const exact = buildSignerPolicy({ certificateIdentity: IDENTITY, certificateOidcIssuer: ISSUER });

  it('accepts the named identity and issuer', () => {
    expect(codeOf(() => checkSigner(exact, signer(IDENTITY, ISSUER)))).toBeUndefined();
  });

  it('compares an exact identity as a string, not as a pattern', () => {
    const dotted = buildSignerPolicy({ certificateIdentity: 'a.b@example.com', certificateOidcIssuer: ISSUER });
    expect(codeOf(() => checkSigner(dotted, signer('aXb@example.com', ISSUER)))).toBe('POLICY_IDENTITY_MISMATCH');
    expect(codeOf(() => checkSigner(dotted, signer('xa.b@example.com', ISSUER)))).toBe('POLICY_IDENTITY_MISMATCH');
  });

  it.each([
    ['another identity', signer(`${IDENTITY}/other`, ISSUER), 'POLICY_IDENTITY_MISMATCH'],
    ['no identity', signer(undefined, ISSUER), 'POLICY_IDENTITY_MISMATCH'],
    ['another issuer', signer(IDENTITY, 'https://accounts.google.com'), 'POLICY_ISSUER_MISMATCH'],
    ['no issuer', signer(IDENTITY, undefined), 'POLICY_ISSUER_MISMATCH'],
  ])('refuses %s', (_what, candidate, code) => {
    expect(codeOf(() => checkSigner(exact, candidate))).toBe(code);
  });

  it('matches expressions against the whole value', () => {
    const pattern = buildSignerPolicy({ certificateIdentityRegExp: 'https://github\\.com/org/[^/]+/.*', certificateOidcIssuer: ISSUER });
    expect(codeOf(() => checkSigner(pattern, signer(IDENTITY, ISSUER)))).toBeUndefined();
    expect(codeOf(() => checkSigner(pattern, signer(`https://evil.example/?${IDENTITY}`, ISSUER)))).toBe('POLICY_IDENTITY_MISMATCH');
  });

  it('has nothing to check for a key policy (the key was the check)', () => {
    const keyPolicy: SignerPolicy = { kind: 'public-key', publicKeyPem: PEM };
    expect(codeOf(() => checkSigner(keyPolicy, { key: generateKeyPairSync('ed25519').publicKey }))).toBeUndefined();
  });
});

describe('checkSigningMaterial', () => {
  const certificatePolicy = buildSignerPolicy({ certificateIdentity: IDENTITY, certificateOidcIssuer: ISSUER });
  const keyPolicy = buildSignerPolicy({ publicKey: PEM });

  it('pairs certificate policies with certificates and key policies with keys', () => {
    expect(codeOf(() => checkSigningMaterial(certificatePolicy, 'certificate'))).toBeUndefined();
    expect(codeOf(() => checkSigningMaterial(keyPolicy, 'public-key'))).toBeUndefined();
    expect(codeOf(() => checkSigningMaterial(certificatePolicy, 'public-key'))).toBe('POLICY_MATERIAL_MISMATCH');
    expect(codeOf(() => checkSigningMaterial(keyPolicy, 'certificate'))).toBe('POLICY_MATERIAL_MISMATCH');
  });
});
