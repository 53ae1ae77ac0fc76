import { createHash, createPublicKey, verify as verifySignature, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { dsse, json, pem } from '@sigstore/core';

/** A proposed entry Rekor must refuse (HTTP 400). */
export class ProposedEntryError extends Error {
  override readonly name = 'ProposedEntryError';
}

export interface CanonicalEntry {
  readonly kind: string;
  readonly apiVersion: string;
  /** The RFC 8785 canonical JSON stored in the log; the leaf hash and SET are computed over it. */
  readonly body: Buffer;
}

const HASH_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Turns a proposed Rekor v1 entry into the canonical body real Rekor stores, or throws
 * ProposedEntryError. Supported: hashedrekord 0.0.1 and dsse 0.0.1 (what sigstore-js submits).
 *
 * Work-around for @sigstore/mock: its Rekor stores the proposed entry verbatim (merely
 * JCS-serialised). For DSSE that keeps `spec.proposedContent` (the whole envelope and verifiers)
 * instead of the `envelopeHash` / `payloadHash` / `signatures` fields real Rekor derives, so
 * @sigstore/verify, which reads those fields from the logged body, refuses such bundles with
 * TLOG_BODY_ERROR "signature count mismatch". Here DSSE entries are canonicalised like Rekor's
 * dsse v0.0.1 type: every signature must verify with one of the verifiers, signatures are sorted,
 * keys are re-encoded as canonical PEM, and the proposed content is dropped.
 */
export function canonicalizeProposedEntry(proposed: unknown): CanonicalEntry {
  if (proposed === null || typeof proposed !== 'object' || Array.isArray(proposed)) {
    throw new ProposedEntryError('proposed entry must be a JSON object');
  }
  const { kind, apiVersion, spec } = proposed as { kind?: unknown; apiVersion?: unknown; spec?: unknown };
  if (spec === null || typeof spec !== 'object') throw new ProposedEntryError('proposed entry has no spec');
  const id = `${String(kind)} ${String(apiVersion)}`;
  switch (id) {
    case 'hashedrekord 0.0.1':
      return canonical('hashedrekord', '0.0.1', canonicalHashedRekordSpec(spec as Record<string, unknown>));
    case 'dsse 0.0.1':
      return canonical('dsse', '0.0.1', canonicalDsseSpec(spec as Record<string, unknown>));
    default:
      throw new ProposedEntryError(`unsupported entry kind/apiVersion "${id}" (the local Rekor accepts hashedrekord 0.0.1 and dsse 0.0.1)`);
  }
}

function canonical(kind: string, apiVersion: string, spec: unknown): CanonicalEntry {
  return { kind, apiVersion, body: Buffer.from(json.canonicalize({ apiVersion, kind, spec }), 'utf8') };
}

/**
 * hashedrekord 0.0.1: keeps the digest, the signature and the key, with the key re-encoded as
 * canonical PEM as Rekor does. Rekor also verifies the signature over the digest; Node's crypto
 * cannot verify ECDSA over a pre-computed digest, so that check is left to verifiers of the bundle.
 */
function canonicalHashedRekordSpec(spec: Record<string, unknown>) {
  const data = spec.data as { hash?: { algorithm?: unknown; value?: unknown } } | undefined;
  const signature = spec.signature as { content?: unknown; publicKey?: { content?: unknown } } | undefined;
  const algorithm = data?.hash?.algorithm;
  const value = data?.hash?.value;
  if (typeof algorithm !== 'string' || !(algorithm in HASH_LENGTHS)) {
    throw new ProposedEntryError(`spec.data.hash.algorithm must be one of ${Object.keys(HASH_LENGTHS).join(', ')}`);
  }
  if (typeof value !== 'string' || value.length !== HASH_LENGTHS[algorithm] || !/^[0-9a-f]+$/.test(value)) {
    throw new ProposedEntryError(`spec.data.hash.value must be ${HASH_LENGTHS[algorithm]} lower-case hex characters`);
  }
  const content = requireBase64(signature?.content, 'spec.signature.content');
  const key = parseVerifier(requireBase64(signature?.publicKey?.content, 'spec.signature.publicKey.content'), 'spec.signature.publicKey.content');
  return {
    data: { hash: { algorithm, value } },
    signature: { content, publicKey: { content: key.canonicalBase64 } },
  };
}

function canonicalDsseSpec(spec: Record<string, unknown>) {
  const proposedContent = spec.proposedContent as { envelope?: unknown; verifiers?: unknown } | undefined;
  if (!proposedContent) throw new ProposedEntryError('dsse entries must carry spec.proposedContent');
  if (spec.envelopeHash !== undefined || spec.payloadHash !== undefined || spec.signatures !== undefined) {
    throw new ProposedEntryError('either proposedContent or envelopeHash, payloadHash and signatures may be set, not both');
  }
  const envelopeJson = proposedContent.envelope;
  if (typeof envelopeJson !== 'string' || envelopeJson === '') {
    throw new ProposedEntryError('spec.proposedContent.envelope must be the DSSE envelope as a JSON string');
  }
  if (!Array.isArray(proposedContent.verifiers) || proposedContent.verifiers.length === 0) {
    throw new ProposedEntryError('spec.proposedContent.verifiers must list at least one key or certificate');
  }
  const verifiers = proposedContent.verifiers.map((v, i) => parseVerifier(requireBase64(v, `spec.proposedContent.verifiers[${i}]`), `spec.proposedContent.verifiers[${i}]`));

  let envelope: { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  try {
    envelope = JSON.parse(envelopeJson) as typeof envelope;
  } catch {
    throw new ProposedEntryError('spec.proposedContent.envelope is not valid JSON');
  }
  if (typeof envelope.payloadType !== 'string') throw new ProposedEntryError('DSSE envelope has no payloadType');
  const payload = Buffer.from(requireBase64(envelope.payload, 'DSSE envelope payload'), 'base64');
  if (!Array.isArray(envelope.signatures) || envelope.signatures.length === 0) {
    throw new ProposedEntryError('DSSE envelope has no signatures');
  }
  const pae = dsse.preAuthEncoding(envelope.payloadType, payload);
  const signatures = envelope.signatures.map((entry: unknown, i: number) => {
    const sig = requireBase64((entry as { sig?: unknown } | null)?.sig, `DSSE envelope signatures[${i}].sig`);
    const verifier = verifiers.find((v) => verifySignature(v.digest, pae, v.key, Buffer.from(sig, 'base64')));
    if (!verifier) throw new ProposedEntryError('all signatures must have a key that verifies it');
    return { signature: sig, verifier: verifier.canonicalBase64 };
  });
  signatures.sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  return {
    envelopeHash: { algorithm: 'sha256', value: sha256Hex(Buffer.from(envelopeJson, 'utf8')) },
    payloadHash: { algorithm: 'sha256', value: sha256Hex(payload) },
    signatures,
  };
}

interface ParsedVerifier {
  readonly key: KeyObject;
  /** Base64 of the canonical PEM (certificate or public key), as Rekor stores keys. */
  readonly canonicalBase64: string;
  /** Digest used with this key (SHA-256 for P-256 and RSA, SHA-384/512 for the larger curves). */
  readonly digest: string | null;
}

function parseVerifier(base64: string, field: string): ParsedVerifier {
  const text = Buffer.from(base64, 'base64').toString('utf8');
  const type = /-----BEGIN ([A-Z ]+)-----/.exec(text)?.[1];
  try {
    if (type === 'CERTIFICATE') {
      const der = pem.toDER(text);
      const key = new NodeX509Certificate(der).publicKey;
      return { key, canonicalBase64: Buffer.from(pem.fromDER(der)).toString('base64'), digest: digestFor(key) };
    }
    if (type === 'PUBLIC KEY') {
      const key = createPublicKey(text);
      const der = key.export({ format: 'der', type: 'spki' });
      return { key, canonicalBase64: Buffer.from(pem.fromDER(der, 'PUBLIC KEY')).toString('base64'), digest: digestFor(key) };
    }
  } catch (error) {
    throw new ProposedEntryError(`${field} could not be parsed: ${error instanceof Error ? error.message : String(error)}`);
  }
  throw new ProposedEntryError(`${field} must be a base64-encoded PEM certificate or public key`);
}

function digestFor(key: KeyObject): string | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  switch (key.asymmetricKeyDetails?.namedCurve) {
    case 'secp384r1':
      return 'sha384';
    case 'secp521r1':
      return 'sha512';
    default:
      return 'sha256';
  }
}

function requireBase64(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '' || !BASE64.test(value)) {
    throw new ProposedEntryError(`${field} must be a non-empty base64 string`);
  }
  return value;
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
