import type { TrustedRoot } from '@sigstore/protobuf-specs';
import type { TrustMaterial } from '@sigstore/verify';
import type { SignatureVerdict } from '../database/database.types';
import type { OciRepository } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import { type ArtifactPolicy, ArtifactVerifier } from '../verification/artifact-verification';
import { discoverSignatures } from '../verification/signature-discovery';
import { readPolicy } from '../verification/artifact-verification.service';
import { type TrustRootSource, TrustRootLoader } from '../sigstore/trust-root-loader';
import { DEFAULT_TRUST_ROOT } from '../verification/trust-roots';

/** Sigstore trust material under a name, and the trusted root it was made from when loaded from one. */
export interface TrustRoot {
  name: string;
  material: TrustMaterial;
  root?: TrustedRoot;
}

/** The policy fields of `POST /v1/verifications`: a certificate identity and issuer (exact or RE2 regexp), or a public key. */
export interface VerificationPolicyInput {
  certificateIdentity?: string;
  certificateIdentityRegExp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegExp?: string;
  publicKey?: string;
  /** Annotations the signed payload must carry. */
  annotations?: Record<string, string>;
}

/** The verdict on one manifest digest: verified when at least one signature satisfies the policy. */
export interface ArtifactVerificationResult {
  verified: boolean;
  manifestDigest: string;
  signatures: SignatureVerdict[];
}

export interface VerifyArtifactOptions {
  policy: ArtifactPolicy;
  trustRoot: TrustRoot;
  /** Keeps outcomes memoized by content across calls; a fresh one per call when left out. */
  verifier?: ArtifactVerifier;
  signal?: AbortSignal;
}

/** Loads a trusted_root.json file (`{ file }`) or the public-good root through TUF (`{ tufCacheDir }`). */
export async function loadTrustRoot(source: TrustRootSource, name = DEFAULT_TRUST_ROOT): Promise<TrustRoot> {
  const { material, root } = await new TrustRootLoader(source).load();
  return { name, material, root };
}

/** Checks a policy as the HTTP API does; throws an Error that says what is wrong with it. */
export function verificationPolicy(input: VerificationPolicyInput): ArtifactPolicy {
  return readPolicy({ ...input });
}

/**
 * Verifies an artifact as `POST /v1/verifications` does: its signatures are discovered live in the
 * registry (the cosign `.sig` image and the Sigstore bundle referrers), then each is verified against the
 * trust root and must bind to the digest and satisfy the policy.
 */
export async function verifyArtifact(
  registry: RegistryClient,
  repository: OciRepository,
  manifestDigest: string,
  options: VerifyArtifactOptions,
): Promise<ArtifactVerificationResult> {
  const found = await discoverSignatures(registry, repository, manifestDigest, options.signal);
  const verifier = options.verifier ?? new ArtifactVerifier();
  const signatures = await Promise.all(found.map((signature) => verifier.verdict(signature, manifestDigest, options.policy, options.trustRoot)));
  return { verified: signatures.some((s) => s.verified), manifestDigest, signatures };
}
