import { BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE, type Bundle, ValidationError, bundleFromJSON } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { BundleVerificationError } from './verification-error';

/** The bundle versions read here: v0.1 to v0.3, in both spellings of v0.3's media type. */
export const SUPPORTED_BUNDLE_MEDIA_TYPES: readonly string[] = [BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE];

/**
 * Reads a Sigstore bundle given as its JSON document or as the text of a `.sigstore.json` file. Anything
 * that is not a bundle of a supported version is a coded failure, never an exception of another kind.
 */
export function readBundle(input: unknown): Bundle {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input) as unknown;
    } catch (error) {
      throw new BundleVerificationError('BUNDLE_MALFORMED', `the bundle is not JSON: ${(error as Error).message}`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BundleVerificationError('BUNDLE_MALFORMED', 'the bundle is not a JSON object');
  const mediaType = (json as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !SUPPORTED_BUNDLE_MEDIA_TYPES.includes(mediaType)) {
    throw new BundleVerificationError(
      'BUNDLE_UNSUPPORTED_VERSION',
      `bundle mediaType ${JSON.stringify(mediaType ?? null)} is not one of ${SUPPORTED_BUNDLE_MEDIA_TYPES.join(', ')}`,
    );
  }
  try {
    return bundleFromJSON(json);
  } catch (error) {
    const fields = error instanceof ValidationError && error.fields.length > 0 ? ` (invalid: ${error.fields.join(', ')})` : '';
    throw new BundleVerificationError('BUNDLE_MALFORMED', `${(error as Error).message}${fields}`);
  }
}

/**
 * A bundle's certificate chain must not carry a root (a self-signed certificate): the trust anchor comes
 * from the trusted root, never from the bundle (conformance case `bundle-with-root-cert_fail`).
 * @sigstore/verify only reads the leaf, so this is checked here.
 */
export function checkCertificateChain(bundle: Bundle): void {
  const material = bundle.verificationMaterial.content;
  if (material.$case !== 'x509CertificateChain') return;
  material.x509CertificateChain.certificates.forEach(({ rawBytes }, index) => {
    let certificate: X509Certificate;
    try {
      certificate = X509Certificate.parse(Buffer.from(rawBytes));
    } catch (error) {
      throw new BundleVerificationError('BUNDLE_MALFORMED', `certificate ${index} of the chain cannot be parsed: ${(error as Error).message}`);
    }
    if (isSelfSigned(certificate)) {
      throw new BundleVerificationError(
        'CERTIFICATE_CHAIN_INCLUDES_ROOT',
        `certificate ${index} of the bundle's chain is a self-signed root; roots come from the trusted root only`,
      );
    }
  });
}

function isSelfSigned(certificate: X509Certificate): boolean {
  if (!certificate.subject.equals(certificate.issuer)) return false;
  try {
    return certificate.verify();
  } catch {
    return false;
  }
}

/** What signed the bundle: a certificate (keyless) or a key named by a hint. */
export function signingMaterialKind(bundle: Bundle): 'certificate' | 'public-key' {
  return bundle.verificationMaterial.content.$case === 'publicKey' ? 'public-key' : 'certificate';
}
