import { generateKeyPairSync } from 'node:crypto';
import { type Bundle, bundleToJSON } from '@sigstore/bundle';
import { initializeCA } from '@sigstore/mock/dist/fulcio';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { checkCertificateChain, readBundle, signingMaterialKind } from './bundle-document';
import { BundleVerificationError } from './verification-error';

const codeOf = (check: () => unknown) => {
  try {
    check();
  } catch (error) {
    if (error instanceof BundleVerificationError) return error.code;
    throw error;
  }
  return undefined;
};

function bundleWithChain(certificates: Buffer[]): Bundle {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      content: { $case: 'x509CertificateChain', x509CertificateChain: { certificates: certificates.map((rawBytes) => ({ rawBytes })) } },
      tlogEntries: [],
      timestampVerificationData: undefined,
    },
    content: { $case: 'messageSignature', messageSignature: { messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: Buffer.alloc(32) }, signature: Buffer.from('sig') } },
  } as Bundle;
}

const keyBundleJson = () => ({
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  verificationMaterial: {
    publicKey: { hint: 'key-1' },
    tlogEntries: [
      {
        logIndex: '1',
        logId: { keyId: Buffer.alloc(32).toString('base64') },
        kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
        integratedTime: '1700000000',
        inclusionProof: {
          logIndex: '1',
          rootHash: Buffer.alloc(32).toString('base64'),
          treeSize: '2',
          hashes: [],
          checkpoint: { envelope: 'origin\n2\nAAAA\n\n— origin sig\n' },
        },
        canonicalizedBody: Buffer.from('{}').toString('base64'),
      },
    ],
  },
  messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: Buffer.alloc(32).toString('base64') }, signature: Buffer.from('sig').toString('base64') },
});

describe('readBundle', () => {
  it('reads a bundle given as JSON or as the text of the file', () => {
    expect(signingMaterialKind(readBundle(keyBundleJson()))).toBe('public-key');
    expect(readBundle(JSON.stringify(keyBundleJson())).content.$case).toBe('messageSignature');
  });

  it.each([
    ['text that is not JSON', '{"mediaType":', 'BUNDLE_MALFORMED'],
    ['a JSON array', [], 'BUNDLE_MALFORMED'],
    ['JSON null', 'null', 'BUNDLE_MALFORMED'],
    ['no media type', { ...keyBundleJson(), mediaType: undefined }, 'BUNDLE_UNSUPPORTED_VERSION'],
    ['an unknown version', { ...keyBundleJson(), mediaType: 'application/vnd.dev.sigstore.bundle+json;version=99.9' }, 'BUNDLE_UNSUPPORTED_VERSION'],
    ['no content', { ...keyBundleJson(), messageSignature: undefined }, 'BUNDLE_MALFORMED'],
    ['no verification material', { ...keyBundleJson(), verificationMaterial: undefined }, 'BUNDLE_MALFORMED'],
  ])('refuses %s', (_what, input, code) => {
    expect(codeOf(() => readBundle(input))).toBe(code);
  });

  it('accepts every version from v0.1 to v0.3', () => {
    const json = bundleToJSON(readBundle(keyBundleJson()));
    expect(codeOf(() => readBundle({ ...json, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.3' }))).toBeUndefined();
  });
});

describe('checkCertificateChain', () => {
  let root: Buffer;
  let leaf: Buffer;

  beforeAll(async () => {
    const ca = await initializeCA(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
    const toBuffer = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    root = toBuffer(ca.rootCertificate);
    const subject = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    leaf = toBuffer(await ca.issueCertificate({ publicKey: subject, subjectAltName: 'https://example.com/workload' }));
  });

  it('accepts a chain of the leaf alone', () => {
    expect(codeOf(() => checkCertificateChain(bundleWithChain([leaf])))).toBeUndefined();
  });

  it('refuses a chain that carries its root', () => {
    expect(codeOf(() => checkCertificateChain(bundleWithChain([leaf, root])))).toBe('CERTIFICATE_CHAIN_INCLUDES_ROOT');
  });

  it('refuses certificates that cannot be parsed', () => {
    expect(codeOf(() => checkCertificateChain(bundleWithChain([Buffer.from('not DER')])))).toBe('BUNDLE_MALFORMED');
  });
});
