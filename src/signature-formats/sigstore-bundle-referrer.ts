import { OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from '../registry/oci-media-types';
import { orderedDescriptor, sortedRecord } from './oci-descriptor';

/**
 * A Sigstore bundle v0.3 attached as an OCI 1.1 referrer, as cosign v3 writes it: a manifest whose
 * artifactType and single layer are the bundle media type, with the signed manifest as `subject`.
 * Pure: bytes in, bytes out.
 */

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const OCI_EMPTY_BLOB = Buffer.from('{}');
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
/** The referrer manifest annotation (and fallback-index descriptor annotation) naming the bundle's predicate type. */
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

/** The in-toto statement signed inside the bundle's DSSE envelope: the artifact digest is its subject. */
export function cosignSignStatement(input: { manifestDigest: string; annotations?: Record<string, string> }): Buffer {
  const [algorithm, hex] = input.manifestDigest.split(':') as [string, string];
  const subject: Record<string, unknown> = { digest: { [algorithm]: hex } };
  if (input.annotations && Object.keys(input.annotations).length > 0) subject.annotations = sortedRecord(input.annotations);
  return Buffer.from(JSON.stringify({ _type: IN_TOTO_STATEMENT_TYPE, subject: [subject], predicateType: COSIGN_SIGN_PREDICATE_TYPE, predicate: {} }));
}

export interface BundleReferrer {
  manifest: Buffer;
  manifestDigest: string;
  bundleBlob: Buffer;
  bundleDigest: string;
}

/**
 * The referrer manifest of a DSSE bundle. `predicateType` is the signed statement's (default cosign's
 * sign type; `https://slsa.dev/provenance/v1` for build provenance), written as cosign writes it for
 * attestations; the fallback index copies it into the referrer's descriptor, and discovery tells
 * signatures from attestations by it.
 */
export function bundleReferrerManifest(input: {
  bundleJson: Buffer;
  subject: { mediaType: string; digest: string; size: number };
  created: Date;
  predicateType?: string;
}): BundleReferrer {
  const bundleDigest = sha256Digest(input.bundleJson);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      artifactType: BUNDLE_MEDIA_TYPE,
      config: orderedDescriptor({ mediaType: OCI_EMPTY_MEDIA_TYPE, size: OCI_EMPTY_BLOB.length, digest: sha256Digest(OCI_EMPTY_BLOB) }),
      layers: [orderedDescriptor({ mediaType: BUNDLE_MEDIA_TYPE, size: input.bundleJson.length, digest: bundleDigest })],
      annotations: {
        'dev.sigstore.bundle.content': 'dsse-envelope',
        [BUNDLE_PREDICATE_TYPE_ANNOTATION]: input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE,
        'org.opencontainers.image.created': input.created.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      subject: orderedDescriptor(input.subject),
    }),
  );
  return { manifest, manifestDigest: sha256Digest(manifest), bundleBlob: input.bundleJson, bundleDigest };
}
