import type { Bundle } from '@sigstore/bundle';

/** The DER of a keyless bundle's signing (leaf) certificate; undefined for a bundle signed with a public key. */
export function bundleLeafCertificate(bundle: Pick<Bundle, 'verificationMaterial'>): Buffer | undefined {
  const content = bundle.verificationMaterial.content;
  if (content.$case === 'certificate') return content.certificate.rawBytes;
  if (content.$case === 'x509CertificateChain') return content.x509CertificateChain.certificates[0]?.rawBytes;
  return undefined;
}
