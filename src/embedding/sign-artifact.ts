import { type SerializedBundle, bundleFromJSON, bundleToJSON } from '@sigstore/bundle';
import { dockerReference } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import { certificateIdentity } from '../x509/certificate-identity';
import { cosignPayload } from '../signature-formats/cosign-classic-signature';
import type { IdentityTokenSource } from '../signing/identity/identity-providers';
import { cosignSignStatement } from '../signature-formats/sigstore-bundle-referrer';
import { type SignedManifest, attachBundleReferrer, attachClassicSignature } from '../signing/signature-attachment';
import { SigstoreSigner } from '../signing/sigstore-signer';
import type { SigningCertificateScope } from '../config/config.schema';
import { RekorClient } from '../sigstore/rekor-client';
import { OwnSignatureVerifier } from '../sigstore/own-signature-verifier';
import { type TrustRootSource, TrustRootLoader } from '../sigstore/trust-root-loader';
import { bundleLeafCertificate } from '../signature-formats/bundle-leaf-certificate';

/** The two ways a signature is attached: cosign's `.sig` image, and a Sigstore bundle referrer (cosign v3). */
export type SignatureFormatName = 'cosign-classic' | 'sigstore-bundle';

export interface KeylessSignerOptions {
  fulcioUrl: string;
  rekorUrl: string;
  tsaUrl?: string;
  /** Where each signature's workload OIDC token comes from (audience `sigstore`). */
  identity: IdentityTokenSource;
  /** The root every new signature is checked against before it is attached. */
  trustRoot: TrustRootSource;
  /** Deadline of one request to Fulcio, Rekor or the TSA. */
  timeoutMs?: number;
  /**
   * `job` (the default): the signatures of one signArtifact call share one ephemeral key and one Fulcio
   * certificate (one identity token); `signature`: each gets its own (the service's SIGNING_CERTIFICATE_SCOPE).
   */
  certificateScope?: SigningCertificateScope;
}

/** What is signed: a manifest in the registry (publishArtifact's result fits). */
export type ManifestToSign = SignedManifest;

/** One signature made and attached. */
export interface ArtifactSignature {
  format: SignatureFormatName;
  /** The signer's certificate identity (SAN) and OIDC issuer. */
  identity: string;
  issuer: string;
  logIndex: number;
  /** Rekor's full entry UUID, when Rekor answered the lookup. */
  rekorEntryUuid?: string;
  bundle: SerializedBundle;
}

export interface SignArtifactOptions {
  /** Defaults to both, classic first (the service's default SIGNATURE_FORMATS). */
  formats?: readonly SignatureFormatName[];
  signal?: AbortSignal;
}

/** Keyless signing (Fulcio, Rekor, TSA) with the checks the service makes before it attaches anything. */
export class KeylessSigner {
  readonly sigstore: SigstoreSigner;
  readonly verifier: OwnSignatureVerifier;
  readonly rekor: RekorClient;

  constructor(options: KeylessSignerOptions) {
    this.sigstore = new SigstoreSigner(
      { fulcioUrl: options.fulcioUrl, rekorUrl: options.rekorUrl, tsaUrl: options.tsaUrl },
      options.identity,
      options.timeoutMs,
      options.certificateScope,
    );
    this.verifier = new OwnSignatureVerifier(new TrustRootLoader(options.trustRoot));
    this.rekor = new RekorClient(options.rekorUrl);
  }
}

/**
 * Signs a manifest in each format and attaches the signatures, as the service's sign step does, in one
 * signing session (by default the formats share one Fulcio certificate, see `certificateScope`): each
 * new signature must verify against the trust root before it is written (cosign v3 prefers bundles and
 * never falls back to `.sig`, so an invalid bundle would hide a valid classic signature), its Rekor entry
 * is looked up, then the `.sig` image is read, appended and written, and the bundle referrer attached
 * (with the referrers-tag fallback index on registries without the referrers API).
 *
 * The `.sig` image and the fallback index are read-modify-write: callers that sign the same manifest
 * concurrently must serialise their calls (the service holds a named lock per manifest).
 */
export async function signArtifact(registry: RegistryClient, target: ManifestToSign, signer: KeylessSigner, options: SignArtifactOptions = {}): Promise<ArtifactSignature[]> {
  const { signal } = options;
  const session = signer.sigstore.session();
  const signatures: ArtifactSignature[] = [];
  for (const format of options.formats ?? ['cosign-classic', 'sigstore-bundle']) {
    const payload = cosignPayload({ dockerReference: dockerReference(target.repository), manifestDigest: target.manifestDigest });
    const signed = format === 'cosign-classic' ? await session.signMessage(payload) : await session.signStatement(cosignSignStatement({ manifestDigest: target.manifestDigest }));
    const leaf = bundleLeafCertificate(signed);
    if (!leaf) throw new Error('the new signature carries no certificate');
    const { identity, issuer } = certificateIdentity(leaf);
    await signer.verifier.verify(signed, { identity, issuer }, format === 'cosign-classic' ? payload : undefined);
    const entry = signed.verificationMaterial.tlogEntries[0];
    if (!entry) throw new Error('the new signature has no transparency log entry');
    const logIndex = Number(entry.logIndex);
    const rekorEntryUuid = (await signer.rekor.getByIndex(logIndex, signal).catch(() => undefined))?.uuid;
    // Attach what a stored bundle reads back as (the service keeps bundles as JSON).
    const serialized = bundleToJSON(signed);
    const bundle = bundleFromJSON(serialized);
    if (format === 'cosign-classic') await attachClassicSignature(registry, target, payload, bundle, signal);
    else await attachBundleReferrer(registry, target, bundle, signal);
    signatures.push({ format, identity, issuer, logIndex, rekorEntryUuid, bundle: serialized });
  }
  return signatures;
}
