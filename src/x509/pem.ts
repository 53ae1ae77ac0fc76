/** PEM text ⇄ DER (RFC 7468), for the certificates Fulcio issues and cosign stores in annotations. Pure. */

export class PemDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PemDecodeError';
  }
}

/** The DER as a PEM block with 64-character lines, the way cosign and openssl write it. */
export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER of the first CERTIFICATE block of a PEM text. */
export function pemToDer(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (!match) throw new PemDecodeError('no PEM CERTIFICATE block');
  return Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
}
