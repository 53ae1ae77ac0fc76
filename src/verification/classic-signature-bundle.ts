import { createHash } from 'node:crypto';
import { COSIGN_ANNOTATIONS, type CosignPayload } from '../signature-formats/cosign-classic-signature';
import { pemToDer } from '../x509/pem';

/**
 * A cosign classic signature (one `.sig` layer: the simple-signing payload and its annotations) as the
 * Sigstore bundle it amounts to, so that @sigstore/verify checks it like any bundle: a v0.1 bundle
 * (the version whose Rekor entries carry a SET instead of an inclusion proof, as classic signatures
 * do) with the leaf certificate, the Rekor entry rebuilt from the `dev.sigstore.cosign/bundle` annotation,
 * the RFC 3161 timestamp when present, and the signature over the payload. Pure.
 */
export function classicSignatureBundle(payload: Buffer, annotations: Record<string, string>): Record<string, unknown> {
  const signature = required(annotations, COSIGN_ANNOTATIONS.signature);
  const certificatePem = required(annotations, COSIGN_ANNOTATIONS.certificate);
  const rekor = parseRekorBundle(required(annotations, COSIGN_ANNOTATIONS.bundle));
  const body = JSON.parse(Buffer.from(rekor.Payload.body, 'base64').toString('utf8')) as { kind?: string; apiVersion?: string };
  // Only the leaf: the chain annotation (when cosign filled it) repeats the CA certificates, which must
  // come from the trust root, never from the signature.
  const certificates = [{ rawBytes: pemToDer(certificatePem).toString('base64') }];
  const timestamp = annotations[COSIGN_ANNOTATIONS.rfc3161Timestamp];

  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates },
      tlogEntries: [
        {
          logIndex: String(rekor.Payload.logIndex),
          logId: { keyId: Buffer.from(rekor.Payload.logID, 'hex').toString('base64') },
          kindVersion: { kind: body.kind ?? 'hashedrekord', version: body.apiVersion ?? '0.0.1' },
          integratedTime: String(rekor.Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
          canonicalizedBody: rekor.Payload.body,
        },
      ],
      timestampVerificationData: {
        rfc3161Timestamps: timestamp ? [{ signedTimestamp: (JSON.parse(timestamp) as { SignedRFC3161Timestamp: string }).SignedRFC3161Timestamp }] : [],
      },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature,
    },
  };
}

/** The payload's claims, or undefined when it is not a simple-signing payload. */
export function parseCosignPayload(payload: Buffer): CosignPayload | undefined {
  try {
    const parsed = JSON.parse(payload.toString('utf8')) as CosignPayload;
    return typeof parsed?.critical?.image?.['docker-manifest-digest'] === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

interface RekorBundleAnnotation {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

function parseRekorBundle(text: string): RekorBundleAnnotation {
  const parsed = JSON.parse(text) as RekorBundleAnnotation;
  const p = parsed?.Payload;
  if (
    typeof parsed?.SignedEntryTimestamp !== 'string' ||
    typeof p?.body !== 'string' ||
    typeof p.logID !== 'string' ||
    typeof p.logIndex !== 'number' ||
    typeof p.integratedTime !== 'number'
  ) {
    throw new Error(`the ${COSIGN_ANNOTATIONS.bundle} annotation is not a Rekor bundle`);
  }
  return parsed;
}

function required(annotations: Record<string, string>, key: string): string {
  const value = annotations[key];
  if (!value) throw new Error(`the signature layer has no ${key} annotation`);
  return value;
}
