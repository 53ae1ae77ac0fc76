import { type KeyObject, verify } from 'node:crypto';

/** A transparency log's public key from the trust root (the shape of @sigstore/verify's TLogAuthority). */
export interface TransparencyLogKey {
  /** SHA-256 of the key's DER SubjectPublicKeyInfo. */
  logID: Buffer;
  baseURL: string;
  publicKey: KeyObject;
  validFor: { start: Date; end: Date };
}

/** Verifies a log's signature: ECDSA and RSA over SHA-256, Ed25519/Ed448 over the data itself. */
export function verifyLogSignature(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const algorithm = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
  try {
    return verify(algorithm, data, key, signature);
  } catch {
    return false;
  }
}
