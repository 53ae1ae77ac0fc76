import { createHash } from 'node:crypto';
import type { Bundle, Envelope, MessageSignature } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { BundleVerificationError } from './verification-error';

/** What the bundle must sign: the artifact's bytes, or only its sha256 digest. */
export type ArtifactInput = { kind: 'bytes'; bytes: Buffer } | { kind: 'digest'; algorithm: 'sha256'; digest: Buffer };

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const SHA256_DIGEST = /^sha256:([0-9a-fA-F]{64})$/;

/** `sha256:<hex>` as an artifact input; undefined when it is not one. */
export function parseArtifactDigest(value: string): ArtifactInput | undefined {
  const match = SHA256_DIGEST.exec(value);
  return match ? { kind: 'digest', algorithm: 'sha256', digest: Buffer.from(match[1]!, 'hex') } : undefined;
}

export function artifactSha256(artifact: ArtifactInput): Buffer {
  return artifact.kind === 'digest' ? artifact.digest : createHash('sha256').update(artifact.bytes).digest();
}

export const formatDigest = (digest: Buffer) => `sha256:${digest.toString('hex')}`;

const NODE_HASH: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
  [HashAlgorithm.SHA3_256]: 'sha3-256',
  [HashAlgorithm.SHA3_384]: 'sha3-384',
};

/**
 * Checks that the bundle is about this artifact, before any signature is checked:
 * - a message signature: its `messageDigest` must be the artifact's digest (computed with the bundle's
 *   hash algorithm from the bytes; in digest mode the bundle must use sha256 and carry the same digest);
 * - a DSSE envelope: it must hold an in-toto statement that names the artifact's sha256 as a subject.
 *   (@sigstore/verify ignores the artifact for DSSE bundles: without this check any attestation signed
 *   by the right identity would verify for any artifact.)
 * Without an artifact (the service checking a statement it signed itself) a DSSE bundle is not bound.
 */
export function checkArtifactBinding(bundle: Bundle, artifact: ArtifactInput | undefined): void {
  switch (bundle.content.$case) {
    case 'messageSignature':
      if (!artifact) throw new BundleVerificationError('ARTIFACT_MISMATCH', 'a message signature can only be verified against an artifact or its digest');
      return checkMessageDigest(bundle.content.messageSignature, artifact);
    case 'dsseEnvelope':
      if (artifact) checkInTotoSubject(bundle.content.dsseEnvelope, artifactSha256(artifact));
      return;
  }
}

function checkMessageDigest(signature: MessageSignature, artifact: ArtifactInput): void {
  const { algorithm, digest } = signature.messageDigest;
  const hash = NODE_HASH[algorithm] ?? (algorithm === HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED ? 'sha256' : undefined);
  if (!hash) throw new BundleVerificationError('BUNDLE_MALFORMED', `the message digest uses an unsupported hash algorithm (${HashAlgorithm[algorithm] ?? algorithm})`);
  if (artifact.kind === 'digest' && hash !== 'sha256') {
    throw new BundleVerificationError('ARTIFACT_MISMATCH', `the bundle signs a ${hash} digest; a sha256 digest cannot be compared with it (send the artifact)`);
  }
  const expected = artifact.kind === 'digest' ? artifact.digest : createHash(hash).update(artifact.bytes).digest();
  if (!expected.equals(Buffer.from(digest))) {
    throw new BundleVerificationError('ARTIFACT_MISMATCH', `the bundle signs ${hash}:${Buffer.from(digest).toString('hex')}, the artifact is ${hash}:${expected.toString('hex')}`);
  }
}

/** The sha256 digests (hex, lower case) of the subjects of an in-toto statement in a DSSE envelope. */
export function inTotoSubjectDigests(envelope: Envelope): string[] {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new BundleVerificationError('ARTIFACT_MISMATCH', `the DSSE payload is ${JSON.stringify(envelope.payloadType)}, not an in-toto statement: it names no artifact`);
  }
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8'));
  } catch {
    throw new BundleVerificationError('BUNDLE_MALFORMED', 'the DSSE payload is not JSON');
  }
  const subjects = (statement as { subject?: unknown } | null)?.subject;
  if (!Array.isArray(subjects)) throw new BundleVerificationError('BUNDLE_MALFORMED', 'the in-toto statement has no subject list');
  return subjects.flatMap((subject: unknown) => {
    const digest = (subject as { digest?: { sha256?: unknown } } | null)?.digest?.sha256;
    return typeof digest === 'string' ? [digest.toLowerCase()] : [];
  });
}

function checkInTotoSubject(envelope: Envelope, sha256: Buffer): void {
  const subjects = inTotoSubjectDigests(envelope);
  const wanted = sha256.toString('hex');
  if (!subjects.includes(wanted)) {
    const named = subjects.length > 0 ? subjects.map((d) => `sha256:${d}`).join(', ') : 'no sha256 digests';
    throw new BundleVerificationError('ARTIFACT_MISMATCH', `sha256:${wanted} is not a subject of the in-toto statement (it names ${named})`);
  }
}
