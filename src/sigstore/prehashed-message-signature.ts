import type { KeyObject } from 'node:crypto';
import type { MessageSignature } from '@sigstore/bundle';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import type { SignedEntity } from '@sigstore/verify';
import { BundleVerificationError } from './verification-error';

type SignatureContent = SignedEntity['signature'];

/** ECDSA curves whose signatures can be checked against a digest, by Node's curve name. */
const CURVES = { prime256v1: p256, secp384r1: p384, secp521r1: p521 } as const;

/**
 * The signed content of a message-signature bundle when only the artifact's digest is known.
 *
 * @sigstore/verify's MessageSignatureContent hashes the artifact bytes itself. Here the signature is
 * checked against the given digest as the message hash (ECDSA signs the hash of the message, so the
 * bytes are not needed); the transparency-log checks compare that same digest. The caller has already
 * made sure the digest is the bundle's `messageDigest`.
 */
export class PrehashedMessageSignatureContent implements SignatureContent {
  readonly signature: Buffer;

  constructor(
    messageSignature: MessageSignature,
    private readonly digest: Buffer,
  ) {
    this.signature = Buffer.from(messageSignature.signature);
  }

  compareSignature(signature: Buffer): boolean {
    return this.signature.equals(signature);
  }

  compareDigest(digest: Buffer): boolean {
    return this.digest.equals(digest);
  }

  compareSignedDigest(digest: Buffer): boolean {
    return this.compareDigest(digest);
  }

  verifySignature(key: KeyObject): boolean {
    return verifyDigestSignature(key, this.digest, this.signature);
  }
}

/**
 * Verifies a DER ECDSA signature over a message whose hash is `digest`. Keys that sign the message itself
 * (Ed25519) or whose signature this service does not check over a digest (RSA) cannot be verified this
 * way: that is DIGEST_MODE_UNSUPPORTED, and the caller must send the artifact.
 */
export function verifyDigestSignature(key: KeyObject, digest: Buffer, signature: Buffer): boolean {
  const curveName = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  const curve = curveName ? CURVES[curveName as keyof typeof CURVES] : undefined;
  if (!curve) {
    const type = curveName ? `EC ${curveName}` : (key.asymmetricKeyType ?? 'unknown');
    throw new BundleVerificationError('DIGEST_MODE_UNSUPPORTED', `a signature by a ${type} key cannot be verified against a digest alone; send the artifact`);
  }
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  try {
    return curve.verify(signature, digest, point, { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false; // a signature that is not DER does not verify
  }
}
