import { generateKeyPairSync } from 'node:crypto';
import { ProblemError } from '../common/problem';
import type { SignerPolicy } from '../sigstore/signer-policy';
import { readPolicy } from './artifact-verification.service';
import { buildProvenancePolicy } from './provenance-policy-request';

const CERTIFICATE: SignerPolicy = {
  kind: 'certificate',
  identity: { kind: 'exact', value: 'https://example.com/ci' },
  issuer: { kind: 'exact', value: 'https://issuer.example.com' },
};
const SIGNER = { certificateIdentity: 'https://example.com/ci', certificateOidcIssuer: 'https://issuer.example.com' };
const DIGEST = `sha256:${'a'.repeat(64)}`;

const problemOf = (read: () => unknown) => {
  try {
    read();
  } catch (error) {
    if (error instanceof ProblemError) return { status: error.status, code: error.code, detail: error.detail };
    throw error;
  }
  throw new Error('expected a problem');
};

describe('buildProvenancePolicy', () => {
  it('reads {} as "a valid attestation, nothing more"', () => {
    expect(buildProvenancePolicy({}, CERTIFICATE)).toEqual({});
  });

  it('reads every field', () => {
    expect(
      buildProvenancePolicy(
        { builderId: 'https://example.com/ci', sourceDigest: DIGEST.toUpperCase().replace('SHA256', 'sha256'), sourceRepository: 'https://git.example/org/repo', builder: 'cargo' },
        CERTIFICATE,
      ),
    ).toEqual({
      builderId: { kind: 'exact', value: 'https://example.com/ci' },
      sourceDigest: DIGEST,
      sourceRepository: 'https://git.example/org/repo',
      builder: 'cargo',
    });
    const pattern = buildProvenancePolicy({ builderIdRegExp: 'https://example\\.com/.+' }, CERTIFICATE).builderId;
    expect(pattern).toMatchObject({ kind: 'regexp', source: 'https://example\\.com/.+' });
    expect(pattern?.kind === 'regexp' && pattern.regexp.test('https://example.com/ci')).toBe(true);
    expect(pattern?.kind === 'regexp' && pattern.regexp.test('https://example.com')).toBe(false);
  });

  it.each([
    ['a list', [], 'policy.provenance must be an object'],
    ['null', null, 'policy.provenance must be an object'],
    ['a string', 'cargo', 'policy.provenance must be an object'],
    ['an unknown field', { source: DIGEST }, 'unknown policy.provenance field(s): source; known: builderId, builderIdRegExp, sourceDigest, sourceRepository, builder'],
    ['a number', { builder: 1 }, 'policy.provenance.builder must be a non-empty string'],
    ['an empty string', { sourceRepository: '' }, 'policy.provenance.sourceRepository must be a non-empty string'],
    ['an over-long field', { builderId: 'x'.repeat(4097) }, 'policy.provenance.builderId must be at most 4096 characters'],
    ['both builder id forms', { builderId: 'a', builderIdRegExp: 'a' }, 'give policy.provenance.builderId or policy.provenance.builderIdRegExp, not both'],
    [
      'a digest that is not sha256',
      { sourceDigest: `sha512:${'a'.repeat(128)}` },
      'policy.provenance.sourceDigest must be sha256:<64 hex digits> (the digest of the source archive)',
    ],
    ['a short digest', { sourceDigest: 'sha256:abc' }, 'policy.provenance.sourceDigest must be sha256:<64 hex digits> (the digest of the source archive)'],
  ])('refuses %s with 400 INVALID_POLICY', (_what, input, detail) => {
    expect(problemOf(() => buildProvenancePolicy(input, CERTIFICATE))).toEqual({ status: 400, code: 'INVALID_POLICY', detail });
  });

  it('refuses a pattern RE2 will not run with 422 INVALID_REGEXP', () => {
    expect(problemOf(() => buildProvenancePolicy({ builderIdRegExp: '(a' }, CERTIFICATE))).toMatchObject({
      status: 422,
      code: 'INVALID_REGEXP',
      detail: expect.stringMatching(/^policy\.provenance\.builderIdRegExp: /),
    });
    expect(problemOf(() => buildProvenancePolicy({ builderIdRegExp: '(a)\\1' }, CERTIFICATE))).toMatchObject({ status: 422, code: 'INVALID_REGEXP' });
  });

  it('refuses provenance with a public-key signer: no certificate would vouch for the builder id', () => {
    const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(problemOf(() => buildProvenancePolicy({}, { kind: 'public-key', publicKeyPem }))).toEqual({
      status: 400,
      code: 'INVALID_POLICY',
      detail: 'policy.provenance needs a certificate identity policy, not policy.publicKey: the builder id is checked against the signing certificate',
    });
    expect(problemOf(() => readPolicy({ publicKey: publicKeyPem, provenance: {} }))).toMatchObject({ status: 400, code: 'INVALID_POLICY' });
  });
});

describe('readPolicy: provenance', () => {
  it('asks for no provenance unless the policy names it', () => {
    expect(readPolicy(SIGNER).provenance).toBeUndefined();
    expect('provenance' in readPolicy(SIGNER)).toBe(false);
  });

  it('reads policy.provenance beside the signer and annotations', () => {
    expect(readPolicy({ ...SIGNER, annotations: { team: 'a' }, provenance: { builder: 'cargo' } })).toEqual({
      signer: CERTIFICATE,
      annotations: { team: 'a' },
      provenance: { builder: 'cargo' },
    });
    expect(readPolicy({ ...SIGNER, provenance: {} }).provenance).toEqual({});
  });

  it('refuses a malformed policy.provenance with 400 INVALID_POLICY', () => {
    expect(problemOf(() => readPolicy({ ...SIGNER, provenance: { builder: 'cargo', unknown: 1 } }))).toMatchObject({ status: 400, code: 'INVALID_POLICY' });
    expect(problemOf(() => readPolicy({ ...SIGNER, provenance: null }))).toMatchObject({ status: 400, code: 'INVALID_POLICY', detail: 'policy.provenance must be an object' });
  });
});
