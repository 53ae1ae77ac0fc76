import { X509Certificate } from '@sigstore/core';

const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';

/** What a Fulcio certificate says about its signer, as recorded with each signature. */
export interface CertificateIdentity {
  /** Subject alternative name: the workload identity (URI or email). */
  identity: string;
  /** OIDC issuer, from Fulcio's issuer extension (1.3.6.1.4.1.57264.1.8, else the older .1.1). */
  issuer: string;
  notBefore: Date;
  notAfter: Date;
}

export function certificateIdentity(der: Buffer): CertificateIdentity {
  const certificate = X509Certificate.parse(Buffer.from(der));
  const v2 = certificate.extension(OID_FULCIO_ISSUER_V2);
  // .1.8 holds a DER UTF8String; the older .1.1 holds the raw issuer bytes.
  const issuer = v2 ? v2.valueObj.subs[0]?.value.toString('utf8') : certificate.extension(OID_FULCIO_ISSUER_V1)?.value.toString('utf8');
  return {
    identity: certificate.subjectAltName ?? '',
    issuer: issuer ?? '',
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}
