import { TrustedRoot } from '@sigstore/protobuf-specs';
import { X509Certificate } from '@sigstore/core';
import { toTrustMaterial } from '@sigstore/verify';
import { memoizeTrustedChainChecks } from './trusted-chain-memo';
import { bundleCertificatePem, fixtureJson } from './__fixtures__/vectors';

describe('memoizeTrustedChainChecks', () => {
  it('remembers how trusted certificates check each other, and checks anything else afresh', () => {
    const material = toTrustMaterial(TrustedRoot.fromJSON(fixtureJson('public-good-trusted-root.json')));
    const chain = material.certificateAuthorities.find((authority) => authority.certChain.length === 2)!.certChain;
    const [intermediate, root] = chain as [X509Certificate, X509Certificate];
    const checks = [jest.spyOn(intermediate, 'verify'), jest.spyOn(root, 'verify')];
    memoizeTrustedChainChecks(material);

    for (let i = 0; i < 3; i++) {
      expect(intermediate.verify(root)).toBe(true);
      expect(root.verify()).toBe(true);
      expect(root.verify(intermediate)).toBe(false);
    }
    expect(checks[0]).toHaveBeenCalledTimes(1);
    expect(checks[1]).toHaveBeenCalledTimes(2); // itself, and by the intermediate

    // A certificate from outside the material (a bundle's leaf) is never remembered.
    const leaf = X509Certificate.parse(bundleCertificatePem('public-good-dsse.sigstore.json'));
    intermediate.verify(leaf);
    intermediate.verify(leaf);
    expect(checks[0]).toHaveBeenCalledTimes(3);
  });
});
