import type { Bundle } from '@sigstore/bundle';
import { OCI_MANIFEST_MEDIA_TYPE, type OciDescriptor, sha256Digest } from '../registry/oci-media-types';
import { toPem } from '../x509/pem';
import { orderedDescriptor, sortedRecord } from './oci-descriptor';
import { bundleLeafCertificate } from './bundle-leaf-certificate';

/**
 * cosign's classic signature format (cosign specs/SIGNATURE_SPEC.md): a `sha256-<hex>.sig` tag whose
 * image holds one `simplesigning` layer per signature, the signature material in layer annotations.
 * Every cosign v2 and v3 `verify` reads it. Pure: bytes in, bytes out.
 */

export const SIMPLESIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const OCI_IMAGE_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';

export const COSIGN_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

/** The tag holding the classic signatures of a manifest digest: `sha256-<hex>.sig`. */
export function cosignSignatureTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}

/**
 * The simple-signing payload, byte for byte as cosign writes it: compact JSON, keys in this order,
 * `optional` null without annotations.
 */
export function cosignPayload(input: { dockerReference: string; manifestDigest: string; annotations?: Record<string, string> }): Buffer {
  const optional = input.annotations && Object.keys(input.annotations).length > 0 ? sortedRecord(input.annotations) : null;
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': input.dockerReference },
        image: { 'docker-manifest-digest': input.manifestDigest },
        type: 'cosign container image signature',
      },
      optional,
    }),
  );
}

export interface CosignPayload {
  critical: { identity: { 'docker-reference': string }; image: { 'docker-manifest-digest': string }; type: string };
  optional: Record<string, string> | null;
}

/** Layer annotations carrying one keyless signature, from the message-signature bundle that produced it. */
export function cosignLayerAnnotations(bundle: Bundle): Record<string, string> {
  if (bundle.content.$case !== 'messageSignature') throw new Error('a cosign classic signature needs a message-signature bundle');
  const material = bundle.verificationMaterial;
  const certificate = bundleLeafCertificate(bundle);
  if (!certificate) throw new Error('keyless signatures carry a certificate; this bundle has a public key');
  const entry = material.tlogEntries[0];
  if (!entry?.inclusionPromise) throw new Error('the bundle has no Rekor entry with a signed entry timestamp');
  const annotations: Record<string, string> = {
    [COSIGN_ANNOTATIONS.signature]: bundle.content.messageSignature.signature.toString('base64'),
    [COSIGN_ANNOTATIONS.certificate]: toPem(certificate),
    [COSIGN_ANNOTATIONS.chain]: '',
    [COSIGN_ANNOTATIONS.bundle]: JSON.stringify({
      SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp.toString('base64'),
      Payload: {
        body: entry.canonicalizedBody.toString('base64'),
        integratedTime: Number(entry.integratedTime),
        logIndex: Number(entry.logIndex),
        logID: entry.logId!.keyId.toString('hex'),
      },
    }),
  };
  const timestamp = material.timestampVerificationData?.rfc3161Timestamps[0];
  if (timestamp) {
    annotations[COSIGN_ANNOTATIONS.rfc3161Timestamp] = JSON.stringify({ SignedRFC3161Timestamp: timestamp.signedTimestamp.toString('base64') });
  }
  return sortedRecord(annotations);
}

export interface SignatureImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
}

/**
 * The signature image with one more signature layer. Earlier layers are kept as they are; a layer
 * whose signature is already present is not added twice (a re-run step writes nothing new).
 */
export function appendSignatureLayer(existingManifest: Buffer | undefined, layer: { payload: Buffer; annotations: Record<string, string> }): SignatureImage {
  const existingLayers = existingManifest ? parseSignatureManifest(existingManifest) : [];
  const signature = layer.annotations[COSIGN_ANNOTATIONS.signature];
  const alreadyThere = existingLayers.some((l) => l.annotations?.[COSIGN_ANNOTATIONS.signature] === signature);
  const layers = alreadyThere
    ? existingLayers
    : [...existingLayers, { mediaType: SIMPLESIGNING_MEDIA_TYPE, size: layer.payload.length, digest: sha256Digest(layer.payload), annotations: layer.annotations }];

  // An image config as go-containerregistry's mutate.Append writes it: diff IDs of the (uncompressed) layers.
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
  const configDigest = sha256Digest(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: orderedDescriptor({ mediaType: OCI_IMAGE_CONFIG_MEDIA_TYPE, size: config.length, digest: configDigest }),
      layers: layers.map(orderedDescriptor),
    }),
  );
  return { manifest, manifestDigest: sha256Digest(manifest), config, configDigest };
}

/** The signature layers of an existing `.sig` manifest (other layers are kept but not interpreted). */
export function parseSignatureManifest(manifest: Buffer): OciDescriptor[] {
  const parsed = JSON.parse(manifest.toString('utf8')) as { layers?: OciDescriptor[] };
  return Array.isArray(parsed.layers) ? parsed.layers : [];
}
