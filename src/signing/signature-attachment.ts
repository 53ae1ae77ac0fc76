import { type Bundle, bundleToJSON } from '@sigstore/bundle';
import { OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from '../registry/oci-media-types';
import type { OciRepository } from '../registry/oci-reference';
import type { RegistryClient } from '../registry/registry-client';
import { appendSignatureLayer, cosignLayerAnnotations, cosignSignatureTag } from '../signature-formats/cosign-classic-signature';
import { BUNDLE_MEDIA_TYPE, OCI_EMPTY_BLOB, bundleReferrerManifest } from '../signature-formats/sigstore-bundle-referrer';

/** The signed manifest that a signature is attached to. */
export interface SignedManifest {
  repository: OciRepository;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
}

/**
 * Appends a classic signature to the manifest's cosign `.sig` image (read, append, write); nothing is
 * written when the image already holds it. A read-modify-write: one writer per manifest at a time.
 */
export async function attachClassicSignature(registry: RegistryClient, target: SignedManifest, payload: Buffer, bundle: Bundle, signal?: AbortSignal): Promise<void> {
  const tag = cosignSignatureTag(target.manifestDigest);
  const existing = await registry.getManifest(target.repository, tag, [OCI_MANIFEST_MEDIA_TYPE], { signal });
  const image = appendSignatureLayer(existing?.bytes, { payload, annotations: cosignLayerAnnotations(bundle) });
  if (existing && existing.digest === image.manifestDigest) return; // this signature is already there
  await registry.pushBlob(target.repository, sha256Digest(payload), payload, { signal });
  await registry.pushBlob(target.repository, image.configDigest, image.config, { signal });
  await registry.putManifest(target.repository, tag, OCI_MANIFEST_MEDIA_TYPE, image.manifest, { signal, derivedTag: true });
}

/**
 * Attaches a Sigstore bundle as a referrer of the manifest (the referrers API, or the `sha256-<hex>`
 * fallback index, itself a read-modify-write: one writer per manifest at a time).
 */
export async function attachBundleReferrer(registry: RegistryClient, target: SignedManifest, bundle: Bundle, signal?: AbortSignal): Promise<void> {
  const referrer = bundleReferrerManifest({
    bundleJson: Buffer.from(JSON.stringify(bundleToJSON(bundle))),
    subject: { mediaType: target.manifestMediaType, digest: target.manifestDigest, size: target.manifestSize },
    created: new Date(Number(bundle.verificationMaterial.tlogEntries[0]!.integratedTime) * 1000),
  });
  await registry.pushBlob(target.repository, sha256Digest(OCI_EMPTY_BLOB), OCI_EMPTY_BLOB, { signal });
  await registry.pushBlob(target.repository, referrer.bundleDigest, referrer.bundleBlob, { signal });
  await registry.attachReferrer(
    target.repository,
    { manifestBytes: referrer.manifest, mediaType: OCI_MANIFEST_MEDIA_TYPE, artifactType: BUNDLE_MEDIA_TYPE, subjectDigest: target.manifestDigest },
    { signal },
  );
}
