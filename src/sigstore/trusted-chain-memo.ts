import type { X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';

/**
 * The certificates of a trust root's certificate authorities check each other on every bundle
 * verification: @sigstore/verify's CertificateChainVerifier (sigstore-js
 * packages/verify/src/key/certificate.ts, `findIssuer`) verifies the root's self-signature and the
 * intermediate's signature by the root again for each leaf, which is two of the three ECDSA/RSA
 * verifications of a chain, always with the same answer.
 *
 * Here each trusted certificate remembers the answer of `verify(issuer)` for issuers that are themselves
 * trusted certificates of the same material (or itself: a self-signature). A leaf from a bundle is never
 * remembered: it is a new object on every verification, checked afresh. Only these instances are
 * changed; @sigstore/core's class is untouched.
 */
export function memoizeTrustedChainChecks(material: TrustMaterial): TrustMaterial {
  const trusted = new Set<X509Certificate>(material.certificateAuthorities.flatMap((authority) => authority.certChain));
  for (const certificate of trusted) {
    const verify = certificate.verify.bind(certificate);
    const answers = new Map<X509Certificate | undefined, boolean>();
    certificate.verify = (issuer?: X509Certificate): boolean => {
      if (issuer !== undefined && !trusted.has(issuer)) return verify(issuer);
      let answer = answers.get(issuer);
      if (answer === undefined) {
        answer = verify(issuer);
        answers.set(issuer, answer);
      }
      return answer;
    };
  }
  return material;
}
