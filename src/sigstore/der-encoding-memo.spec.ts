import { dirname } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleFromJSON } from '@sigstore/bundle';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { toTrustMaterial } from '@sigstore/verify';
import { verifyBundle } from './bundle-verifier';
import { derEncodingMemoized, memoizeDerEncoding } from './der-encoding-memo';
import { bundleCertificatePem, fixtureJson } from './__fixtures__/vectors';

const IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const policy = {
  kind: 'certificate' as const,
  identity: { kind: 'exact' as const, value: IDENTITY },
  issuer: { kind: 'exact' as const, value: 'https://token.actions.githubusercontent.com' },
};

describe('memoizeDerEncoding', () => {
  const verifyFixtures = () => {
    const trustMaterial = toTrustMaterial(TrustedRoot.fromJSON(fixtureJson('public-good-trusted-root.json')));
    const bundle = fixtureJson('public-good-dsse.sigstore.json');
    const forged = structuredClone(bundle);
    forged.verificationMaterial.certificate.rawBytes = Buffer.from(forged.verificationMaterial.certificate.rawBytes, 'base64').reverse().toString('base64');
    return [bundle, forged].map((document: unknown) => {
      try {
        return verifyBundle({ bundle: bundleFromJSON(document), artifact: undefined, policy, trustMaterial });
      } catch (error) {
        return { verified: false, error: String(error) };
      }
    });
  };

  it('patches the @sigstore/core that @sigstore/verify loads, and changes no answer', () => {
    const verifyCore = require.resolve('@sigstore/core', { paths: [dirname(require.resolve('@sigstore/verify'))] });
    expect(verifyCore).toBe(require.resolve('@sigstore/core'));

    const before = verifyFixtures();
    expect(derEncodingMemoized()).toBe(false);
    memoizeDerEncoding();
    memoizeDerEncoding(); // twice: installed once
    expect(derEncodingMemoized()).toBe(true);
    expect(verifyFixtures()).toEqual(before);
    expect(before.map((outcome) => outcome.verified)).toEqual([true, false]);
  });

  it('gives the same bytes as the original encoding, computed once per object', () => {
    memoizeDerEncoding();
    const der = Buffer.from(bundleCertificatePem('public-good-dsse.sigstore.json').replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const certificate = X509Certificate.parse(der);
    expect(certificate.root.toDER().equals(der)).toBe(true);
    expect(certificate.root.toDER()).toBe(certificate.root.toDER());
    const other = X509Certificate.parse(Buffer.from(der));
    expect(other.root.toDER()).not.toBe(certificate.root.toDER());
    expect(certificate.equals(other)).toBe(true);
    expect(Buffer.compare(ASN1Obj.parseBuffer(Buffer.from(certificate.publicKey)).toDER(), certificate.publicKey)).toBe(0);
  });
});
