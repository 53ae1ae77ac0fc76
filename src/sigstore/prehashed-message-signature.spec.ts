import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { PrehashedMessageSignatureContent, verifyDigestSignature } from './prehashed-message-signature';
import { BundleVerificationError } from './verification-error';

const artifact = Buffer.from('a component, or any other artifact\n');
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest();

describe('verifyDigestSignature', () => {
  it.each(['prime256v1', 'secp384r1', 'secp521r1'])('verifies an ECDSA %s signature over the sha256 of the artifact from the digest alone', (namedCurve) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
    const signature = sign('sha256', artifact, privateKey); // DER, over sha256(artifact)
    expect(verifyDigestSignature(publicKey, sha256(artifact), signature)).toBe(true);
    expect(verifyDigestSignature(publicKey, sha256(Buffer.from('another artifact')), signature)).toBe(false);
  });

  it('refuses a signature by another key', () => {
    const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(verifyDigestSignature(other.publicKey, sha256(artifact), sign('sha256', artifact, signer.privateKey))).toBe(false);
  });

  it('accepts a signature with a high S value, as OpenSSL and Go produce them', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    let highS: Buffer | undefined;
    for (let i = 0; i < 64 && !highS; i++) {
      const signature = sign('sha256', artifact, privateKey);
      if (p256.Signature.fromDER(signature).hasHighS()) highS = signature;
    }
    expect(highS).toBeDefined();
    expect(verifyDigestSignature(publicKey, sha256(artifact), highS!)).toBe(true);
  });

  it('treats bytes that are not a DER signature as not verifying', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(verifyDigestSignature(publicKey, sha256(artifact), Buffer.from('not a signature'))).toBe(false);
  });

  it.each([
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey, /ed25519/],
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, /rsa/],
    ['secp256k1', () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey, /secp256k1/],
  ])('cannot check a %s signature against a digest', (_what, key, named) => {
    let failure: unknown;
    try {
      verifyDigestSignature(key(), sha256(artifact), Buffer.alloc(64));
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(BundleVerificationError);
    expect(failure).toMatchObject({ code: 'DIGEST_MODE_UNSUPPORTED', message: expect.stringMatching(named) });
  });
});

describe('PrehashedMessageSignatureContent', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signature = sign('sha256', artifact, privateKey);
  const content = new PrehashedMessageSignatureContent({ messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: sha256(artifact) }, signature }, sha256(artifact));

  it('compares what the transparency log records with the given digest and the signature', () => {
    expect(content.compareDigest(sha256(artifact))).toBe(true);
    expect(content.compareSignedDigest(sha256(artifact))).toBe(true);
    expect(content.compareDigest(sha256(Buffer.from('x')))).toBe(false);
    expect(content.compareSignature(signature)).toBe(true);
    expect(content.compareSignature(Buffer.from('x'))).toBe(false);
    expect(content.signature).toEqual(signature);
  });

  it('verifies the signature against the digest', () => {
    expect(content.verifySignature(publicKey)).toBe(true);
    expect(content.verifySignature(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey)).toBe(false);
  });
});
