import { createHash } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { type ArtifactInput, checkArtifactBinding, inTotoSubjectDigests, parseArtifactDigest } from './artifact-binding';
import { BundleVerificationError } from './verification-error';

const artifact = Buffer.from('hello, wasm\n');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest();
const bytes = (b: Buffer): ArtifactInput => ({ kind: 'bytes', bytes: b });
const digest = (d: Buffer): ArtifactInput => ({ kind: 'digest', algorithm: 'sha256', digest: d });

const verificationMaterial = {
  content: { $case: 'publicKey', publicKey: { hint: 'k' } },
  tlogEntries: [],
  timestampVerificationData: undefined,
} as unknown as Bundle['verificationMaterial'];

function messageBundle(signed: Buffer, algorithm = HashAlgorithm.SHA2_256): Bundle {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial,
    content: { $case: 'messageSignature', messageSignature: { messageDigest: { algorithm, digest: signed }, signature: Buffer.from('sig') } },
  } as Bundle;
}

function dsseBundle(payload: unknown, payloadType = 'application/vnd.in-toto+json'): Bundle {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial,
    content: {
      $case: 'dsseEnvelope',
      dsseEnvelope: { payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), payloadType, signatures: [{ sig: Buffer.from('sig'), keyid: '' }] },
    },
  } as Bundle;
}

const statement = (...digests: Record<string, string>[]) => ({
  _type: 'https://in-toto.io/Statement/v1',
  subject: digests.map((d, i) => ({ name: `subject-${i}`, digest: d })),
  predicateType: 'https://example.com/predicate',
  predicate: {},
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

describe('parseArtifactDigest', () => {
  it('reads sha256:<hex> in either case', () => {
    const hex = sha256(artifact).toString('hex');
    expect(parseArtifactDigest(`sha256:${hex}`)).toEqual(digest(sha256(artifact)));
    expect(parseArtifactDigest(`sha256:${hex.toUpperCase()}`)).toEqual(digest(sha256(artifact)));
  });

  it.each(['sha256:abc', `sha512:${'0'.repeat(64)}`, '0'.repeat(64), `sha256:${'g'.repeat(64)}`])('refuses %s', (value) => {
    expect(parseArtifactDigest(value)).toBeUndefined();
  });
});

describe('message signature bundles', () => {
  it('accept the artifact whose digest they sign, as bytes or as digest', () => {
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha256(artifact)), bytes(artifact)))).toBeUndefined();
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha256(artifact)), digest(sha256(artifact))))).toBeUndefined();
  });

  it('refuse another artifact', () => {
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha256(artifact)), bytes(Buffer.from('other'))))).toBe('ARTIFACT_MISMATCH');
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha256(artifact)), digest(sha256(Buffer.from('other')))))).toBe('ARTIFACT_MISMATCH');
  });

  it("hash the bytes with the bundle's algorithm", () => {
    const sha384 = createHash('sha384').update(artifact).digest();
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha384, HashAlgorithm.SHA2_384), bytes(artifact)))).toBeUndefined();
  });

  it('cannot compare a sha256 digest with a bundle over another hash', () => {
    const sha384 = createHash('sha384').update(artifact).digest();
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha384, HashAlgorithm.SHA2_384), digest(sha256(artifact))))).toBe('ARTIFACT_MISMATCH');
  });

  it('need an artifact', () => {
    expect(codeOf(() => checkArtifactBinding(messageBundle(sha256(artifact)), undefined))).toBe('ARTIFACT_MISMATCH');
  });
});

describe('DSSE bundles', () => {
  const subject = { sha256: sha256(artifact).toString('hex') };

  it('accept an artifact that is a subject, as bytes or as digest', () => {
    const bundle = dsseBundle(statement({ sha512: 'ff' }, subject));
    expect(codeOf(() => checkArtifactBinding(bundle, bytes(artifact)))).toBeUndefined();
    expect(codeOf(() => checkArtifactBinding(bundle, digest(sha256(artifact))))).toBeUndefined();
  });

  it('compare subject digests without regard to case', () => {
    expect(codeOf(() => checkArtifactBinding(dsseBundle(statement({ sha256: subject.sha256.toUpperCase() })), bytes(artifact)))).toBeUndefined();
  });

  it('refuse an artifact that is not a subject', () => {
    const bundle = dsseBundle(statement({ sha256: 'ab'.repeat(32) }));
    expect(codeOf(() => checkArtifactBinding(bundle, bytes(artifact)))).toBe('ARTIFACT_MISMATCH');
    expect(codeOf(() => checkArtifactBinding(bundle, digest(sha256(artifact))))).toBe('ARTIFACT_MISMATCH');
  });

  it('refuse a payload that is not an in-toto statement', () => {
    expect(codeOf(() => checkArtifactBinding(dsseBundle(statement(subject), 'application/json'), bytes(artifact)))).toBe('ARTIFACT_MISMATCH');
  });

  it.each([
    ['not JSON', '{"subject":'],
    ['without subjects', { _type: 'https://in-toto.io/Statement/v1' }],
    ['JSON null', 'null'],
  ])('call a statement %s malformed', (_what, payload) => {
    expect(codeOf(() => checkArtifactBinding(dsseBundle(payload), bytes(artifact)))).toBe('BUNDLE_MALFORMED');
  });

  it('are not bound when no artifact is given (a statement checked by its signer)', () => {
    expect(codeOf(() => checkArtifactBinding(dsseBundle(statement({ sha256: 'ab'.repeat(32) })), undefined))).toBeUndefined();
  });

  it('list the sha256 subject digests', () => {
    const envelope = (dsseBundle(statement({ sha256: 'AA' }, { sha512: 'bb' }, { sha256: 'cc' })).content as { dsseEnvelope: Parameters<typeof inTotoSubjectDigests>[0] })
      .dsseEnvelope;
    expect(inTotoSubjectDigests(envelope)).toEqual(['aa', 'cc']);
  });
});
