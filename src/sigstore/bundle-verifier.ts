import { type KeyObject, createPublicKey } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { type SignedEntity, type Signer, type TrustMaterial, Verifier, toSignedEntity } from '@sigstore/verify';
import type { WholeStringRegExp } from '../common/caller-regexp';
import { type ArtifactInput, checkArtifactBinding } from './artifact-binding';
import { checkCertificateChain, readBundle, signingMaterialKind } from './bundle-document';
import { PrehashedMessageSignatureContent } from './prehashed-message-signature';
import { type SignerPolicy, checkSigner, checkSigningMaterial } from './signer-policy';
import { BundleVerificationError, type VerificationFailure, toVerificationFailure } from './verification-error';

/** Who must have signed: the certificate's identity (SAN, exact or a whole-string RE2 pattern) and the OIDC issuer extension. */
export interface IdentityPolicy {
  identity: string | WholeStringRegExp;
  issuer: string;
}

export interface BundleVerificationInput {
  bundle: Bundle;
  /** The artifact (bytes or sha256 digest); omitted only for a DSSE statement checked by its signer. */
  artifact: ArtifactInput | undefined;
  policy: SignerPolicy;
  trustMaterial: TrustMaterial;
}

/** The answer about one bundle. `identity` and `issuer` are given once the certificate has been verified. */
export type VerificationOutcome =
  | { verified: true; identity: string | null; issuer: string | null; signer: Signer }
  | { verified: false; identity: string | null; issuer: string | null; error: VerificationFailure };

/**
 * Verifies a Sigstore bundle: our checks around @sigstore/verify, which does the certificate chain to a
 * trusted Fulcio CA, the SCT, Rekor SET / inclusion proof and checkpoint, TSA timestamps and the signature.
 * Certificate validity is judged at the log's integrated time or the TSA time, never at "now".
 *
 * Before it: the chain carries no root, the bundle is signed the way the policy expects (certificate or
 * key), and the bundle is about this artifact (message digest, or an in-toto subject for DSSE). After it:
 * the identity and issuer, matched here exactly or as whole-string regular expressions.
 *
 * Never throws: every error is a failed verification with a code.
 */
export function verifyBundle(input: BundleVerificationInput): VerificationOutcome {
  const { bundle, artifact, policy } = input;
  let signer: Signer | undefined;
  try {
    checkCertificateChain(bundle);
    checkSigningMaterial(policy, signingMaterialKind(bundle));
    checkArtifactBinding(bundle, artifact);
    const trustMaterial = policy.kind === 'public-key' ? withPublicKey(input.trustMaterial, policy.publicKeyPem) : input.trustMaterial;
    signer = new Verifier(trustMaterial, { tlogThreshold: 1, ctlogThreshold: 1 }).verify(signedEntity(bundle, artifact));
    checkSigner(policy, signer);
    return { verified: true, ...signerIdentity(signer), signer };
  } catch (error) {
    return { verified: false, ...signerIdentity(signer), error: toVerificationFailure(error) };
  }
}

/** Like verifyBundle, for a bundle as the caller sent it (its JSON document, or the file's text). */
export function verifyBundleDocument(document: unknown, rest: Omit<BundleVerificationInput, 'bundle'>): VerificationOutcome {
  let bundle: Bundle;
  try {
    bundle = readBundle(document);
  } catch (error) {
    return failedVerification(error);
  }
  return verifyBundle({ ...rest, bundle });
}

export function failedVerification(error: unknown): VerificationOutcome {
  return { verified: false, identity: null, issuer: null, error: toVerificationFailure(error) };
}

/** What sigstore-js verifies; in digest mode a message signature is checked against the digest. */
function signedEntity(bundle: Bundle, artifact: ArtifactInput | undefined): SignedEntity {
  const entity = toSignedEntity(bundle, artifact?.kind === 'bytes' ? artifact.bytes : undefined);
  if (artifact?.kind === 'digest' && bundle.content.$case === 'messageSignature') {
    return { ...entity, signature: new PrehashedMessageSignatureContent(bundle.content.messageSignature, artifact.digest) };
  }
  return entity;
}

/**
 * The trust material with the caller's key as the only signing key. The bundle's key hint is not
 * consulted: the policy names the key, whatever the bundle calls it.
 */
function withPublicKey(material: TrustMaterial, pem: string): TrustMaterial {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new BundleVerificationError('PUBLIC_KEY_INVALID', `the policy's public key cannot be read: ${(error as Error).message}`);
  }
  return { ...material, publicKey: () => ({ publicKey: key, validFor: () => true }) };
}

function signerIdentity(signer: Signer | undefined): { identity: string | null; issuer: string | null } {
  return { identity: signer?.identity?.subjectAlternativeName ?? null, issuer: signer?.identity?.extensions?.issuer ?? null };
}
