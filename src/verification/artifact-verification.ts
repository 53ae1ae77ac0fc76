import type { SignatureVerdict } from '../database/database.types';
import { createHash } from 'node:crypto';
import { LruCache } from '../common/lru-cache';
import type { ArtifactInput } from '../sigstore/artifact-binding';
import { type BundleVerdict, BundleVerificationPool, type VerificationTrust } from '../sigstore/bundle-verification-pool';
import { parseCosignPayload } from './classic-signature-bundle';
import type { DiscoveredSignature } from './signature-discovery';
import type { SignerPolicy } from '../sigstore/signer-policy';
import type { ProvenancePolicy } from './provenance-verification';
import { tlogEntryFacts } from './tlog-entry-facts';
import { signerPolicyKey, trustMaterialKey } from './verification-memo-key';

/** What a caller learns about one signature of an artifact: the shape verification records keep. */
export type { SignatureVerdict };

export interface ArtifactPolicy {
  signer: SignerPolicy;
  /** Annotations the signed payload must carry (classic `optional`, in-toto subject annotations). */
  annotations: Record<string, string>;
  /** When given: a build provenance attestation must also verify (see verifyProvenance). */
  provenance?: ProvenancePolicy;
}

type CachedOutcome = Pick<BundleVerdict, 'verified' | 'identity' | 'issuer'> & { error: { code: string; message: string } | null };

/**
 * Decides about the signatures of one manifest digest. Each signature is verified with sigstore-js
 * (on the BundleVerificationPool's threads, or in-process when it has none) and must also bind to this digest — the classic payload's
 * `docker-manifest-digest`, or the in-toto subject — and carry the required annotations.
 *
 * Verifying one signature is a pure function of its bytes, the digest, the policy and the trust root,
 * and costs milliseconds of CPU (certificate chain, SCT, SET, timestamps): the outcome is memoized by
 * content, so a repeated verification only repeats the live discovery in the registry.
 */
export class ArtifactVerifier {
  private readonly memo: LruCache<string, CachedOutcome>;
  private readonly pool: BundleVerificationPool;

  constructor(options: { pool?: BundleVerificationPool; capacity?: number } = {}) {
    this.memo = new LruCache(options.capacity ?? 10_000);
    this.pool = options.pool ?? new BundleVerificationPool();
  }

  async verdict(found: DiscoveredSignature, digest: string, policy: ArtifactPolicy, trust: VerificationTrust): Promise<SignatureVerdict> {
    const entry = tlogEntryFacts(found.bundle);
    const base = { format: found.format, location: found.location, ...entry };
    if (found.unreadable) return { ...base, verified: false, identity: null, issuer: null, error: found.unreadable };

    const key = memoKey(found, digest, policy, trust);
    let outcome = this.memo.get(key);
    if (!outcome) {
      outcome = await this.decide(found, digest, policy, trust);
      // A thread that failed on the bundle says nothing about it for good: not remembered.
      if (outcome.error?.code !== 'VERIFIER_FAILED') this.memo.set(key, outcome);
    }
    return { ...base, verified: outcome.verified, identity: outcome.identity, issuer: outcome.issuer, error: outcome.error };
  }

  private async decide(found: DiscoveredSignature, digest: string, policy: ArtifactPolicy, trust: VerificationTrust): Promise<CachedOutcome> {
    const artifact: ArtifactInput =
      found.format === 'cosign-classic'
        ? { kind: 'bytes', bytes: found.payload! }
        : { kind: 'digest', algorithm: 'sha256', digest: Buffer.from(digest.slice('sha256:'.length), 'hex') };
    const outcome = await this.pool.verify(found.bundle, { artifact, policy: policy.signer, trust });
    const facts = { identity: outcome.identity, issuer: outcome.issuer };
    if (!outcome.verified) return { verified: false, ...facts, error: { code: outcome.error.code, message: outcome.error.message } };

    const signed = signedClaims(found);
    if (signed.digest !== undefined && signed.digest !== digest) {
      return { verified: false, ...facts, error: { code: 'SIGNATURE_DIGEST_MISMATCH', message: `the signature is for ${signed.digest}, not ${digest}` } };
    }
    for (const [key, value] of Object.entries(policy.annotations)) {
      if (signed.annotations[key] !== value) {
        return {
          verified: false,
          ...facts,
          error: {
            code: 'ANNOTATION_MISMATCH',
            message: `the signed annotation ${key} is ${JSON.stringify(signed.annotations[key] ?? null)}, the policy requires ${JSON.stringify(value)}`,
          },
        };
      }
    }
    return { verified: true, ...facts, error: null };
  }
}

/**
 * The digest and annotations the signature itself claims. For a bundle, the in-toto subject was already
 * matched against the digest by the verifier; its annotations are those of the matching subject.
 */
function signedClaims(found: DiscoveredSignature): { digest?: string; annotations: Record<string, string> } {
  if (found.format === 'cosign-classic') {
    const payload = parseCosignPayload(found.payload!);
    return { digest: payload?.critical.image['docker-manifest-digest'] ?? '(none)', annotations: payload?.optional ?? {} };
  }
  try {
    const envelope = (found.bundle as { dsseEnvelope?: { payload?: string } }).dsseEnvelope;
    const statement = JSON.parse(Buffer.from(envelope?.payload ?? '', 'base64').toString('utf8')) as { subject?: { annotations?: Record<string, string> }[] };
    return { annotations: statement.subject?.[0]?.annotations ?? {} };
  } catch {
    return { annotations: {} };
  }
}

function memoKey(found: DiscoveredSignature, digest: string, policy: ArtifactPolicy, trust: VerificationTrust): string {
  return createHash('sha256')
    .update(
      JSON.stringify([found.format, found.bundle, found.payload?.toString('base64') ?? null, digest, signerPolicyKey(policy.signer), policy.annotations, trustMaterialKey(trust)]),
    )
    .digest('hex');
}
