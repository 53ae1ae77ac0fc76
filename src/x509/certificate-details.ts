import { createHash, createPublicKey } from 'node:crypto';
import { ASN1Obj } from '@sigstore/core';
import { formatDistinguishedName } from './distinguished-name';
import { pemToDer } from './pem';

/**
 * What `openssl x509 -noout -subject -issuer -dates -serial -fingerprint -sha256` shows of a
 * certificate, plus the subject alternative names, the public key and the Fulcio extensions.
 */
export interface CertificateDetails {
  /** One-line subject, as `openssl x509 -nameopt oneline,-space_eq,-esc_msb` prints it (empty for Fulcio leaves). */
  subject: string;
  /** One-line issuer, e.g. `O=sigstore.dev, CN=sigstore-intermediate`. */
  issuer: string;
  /** Serial number as `openssl x509 -serial` prints it: upper-case hex, no separators. */
  serialNumber: string;
  /** ISO 8601 (UTC). */
  notBefore: string;
  notAfter: string;
  /** As `openssl x509 -dates` prints them: `Nov 25 17:49:54 2026 GMT`. */
  notBeforeText: string;
  notAfterText: string;
  /** SHA-256 of the DER, upper-case hex pairs joined by colons (`openssl x509 -fingerprint -sha256`). */
  fingerprintSha256: string;
  subjectAlternativeNames: SubjectAlternativeNames;
  /** OIDC issuer from Fulcio's extension 1.3.6.1.4.1.57264.1.8, else the older 1.3.6.1.4.1.57264.1.1. */
  oidcIssuer: string | null;
  /** Fulcio's other certificate extensions (1.3.6.1.4.1.57264.1.x) by name, when present. */
  fulcioExtensions: Record<string, string>;
  publicKey: PublicKeyDetails;
  /** OpenSSL's name of the signature algorithm, e.g. `ecdsa-with-SHA384`, else the OID. */
  signatureAlgorithm: string;
}

export interface SubjectAlternativeNames {
  uris: string[];
  emails: string[];
  dnsNames: string[];
  ipAddresses: string[];
  /** otherName entries; Fulcio puts username identities under 1.3.6.1.4.1.57264.1.7. */
  otherNames: { oid: string; value: string }[];
}

export interface PublicKeyDetails {
  /** OpenSSL's name: `id-ecPublicKey`, `rsaEncryption`, `ED25519`, …, else the OID. */
  algorithm: string;
  /** Key size in bits, as `Public-Key: (256 bit)`. */
  bits: number | null;
  /** Named curve of an EC key, as OpenSSL's `ASN1 OID:` line (`prime256v1`, `secp384r1`). */
  curve: string | null;
}

export class CertificateDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateDecodeError';
  }
}

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const FULCIO_ARC = '1.3.6.1.4.1.57264.1.';

/**
 * Fulcio's certificate extensions (sigstore/fulcio docs/oid-info.md). The deprecated .1.1–.1.6 hold
 * the raw string; .1.8 onwards a DER UTF8String.
 */
const FULCIO_EXTENSIONS: Record<number, { name: string; der: boolean }> = {
  1: { name: 'issuerV1', der: false },
  2: { name: 'githubWorkflowTrigger', der: false },
  3: { name: 'githubWorkflowSha', der: false },
  4: { name: 'githubWorkflowName', der: false },
  5: { name: 'githubWorkflowRepository', der: false },
  6: { name: 'githubWorkflowRef', der: false },
  8: { name: 'issuer', der: true },
  9: { name: 'buildSignerUri', der: true },
  10: { name: 'buildSignerDigest', der: true },
  11: { name: 'runnerEnvironment', der: true },
  12: { name: 'sourceRepositoryUri', der: true },
  13: { name: 'sourceRepositoryDigest', der: true },
  14: { name: 'sourceRepositoryRef', der: true },
  15: { name: 'sourceRepositoryIdentifier', der: true },
  16: { name: 'sourceRepositoryOwnerUri', der: true },
  17: { name: 'sourceRepositoryOwnerIdentifier', der: true },
  18: { name: 'buildConfigUri', der: true },
  19: { name: 'buildConfigDigest', der: true },
  20: { name: 'buildTrigger', der: true },
  21: { name: 'runInvocationUri', der: true },
  22: { name: 'sourceRepositoryVisibilityAtSigning', der: true },
};

const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};

const KEY_ALGORITHMS: Record<string, string> = {
  '1.2.840.10045.2.1': 'id-ecPublicKey',
  '1.2.840.113549.1.1.1': 'rsaEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};

const CURVE_BITS: Record<string, number> = { prime256v1: 256, secp384r1: 384, secp521r1: 521, secp256k1: 256 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Decodes a certificate given as PEM (the first CERTIFICATE block) or DER. */
export function certificateDetails(certificate: string | Buffer): CertificateDetails {
  const der = typeof certificate === 'string' ? certificateDer(certificate) : certificate;
  let root: ASN1Obj;
  try {
    root = ASN1Obj.parseBuffer(Buffer.from(der));
  } catch (error) {
    throw new CertificateDecodeError(`not a DER certificate: ${(error as Error).message}`, { cause: error });
  }
  try {
    return decode(root, der);
  } catch (error) {
    if (error instanceof CertificateDecodeError) throw error;
    throw new CertificateDecodeError(`malformed certificate: ${(error as Error).message}`, { cause: error });
  }
}

function decode(root: ASN1Obj, der: Buffer): CertificateDetails {
  const [tbs, signatureAlgorithm] = root.subs;
  if (!tbs || !signatureAlgorithm) throw new CertificateDecodeError('not an X.509 certificate');
  // TBSCertificate: [0] version (absent in v1), serial, signature, issuer, validity, subject, spki, …, [3] extensions
  const offset = tbs.subs[0]?.tag.isContextSpecific(0) ? 1 : 0;
  const field = (i: number): ASN1Obj => {
    const sub = tbs.subs[offset + i];
    if (!sub) throw new CertificateDecodeError('truncated TBSCertificate');
    return sub;
  };
  const serial = field(0);
  const validity = field(3);
  const notBefore = validity.subs[0]!.toDate();
  const notAfter = validity.subs[1]!.toDate();
  const extensions = new Map<string, ASN1Obj>();
  for (const extension of tbs.subs.find((s) => s.tag.isContextSpecific(3))?.subs[0]?.subs ?? []) {
    extensions.set(extension.subs[0]!.toOID(), extension.subs[extension.subs.length - 1]!);
  }
  const fulcio = fulcioExtensions(extensions);
  const signatureOid = signatureAlgorithm.subs[0]!.toOID();
  return {
    subject: formatDistinguishedName(field(4)),
    issuer: formatDistinguishedName(field(2)),
    serialNumber: serialHex(serial.value),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    notBeforeText: opensslTime(notBefore),
    notAfterText: opensslTime(notAfter),
    fingerprintSha256: colonHex(createHash('sha256').update(der).digest()),
    subjectAlternativeNames: subjectAlternativeNames(extensions.get(OID_SUBJECT_ALT_NAME)),
    oidcIssuer: fulcio.issuer ?? fulcio.issuerV1 ?? null,
    fulcioExtensions: fulcio,
    publicKey: publicKeyDetails(field(5)),
    signatureAlgorithm: SIGNATURE_ALGORITHMS[signatureOid] ?? signatureOid,
  };
}

function certificateDer(pem: string): Buffer {
  try {
    return pemToDer(pem);
  } catch (error) {
    throw new CertificateDecodeError((error as Error).message);
  }
}

/** openssl's ASN1_TIME_print form: `Mar  9 07:05:01 2026 GMT` (day padded with a space). */
export function opensslTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${MONTHS[date.getUTCMonth()]} ${day} ${time} ${date.getUTCFullYear()} GMT`;
}

/** The INTEGER's content octets without the sign byte DER adds before a high bit, upper-case hex. */
function serialHex(content: Buffer): string {
  const magnitude = content.length > 1 && content[0] === 0 ? content.subarray(1) : content;
  return magnitude.toString('hex').toUpperCase() || '00';
}

function colonHex(bytes: Buffer): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

function subjectAlternativeNames(extnValue: ASN1Obj | undefined): SubjectAlternativeNames {
  const names: SubjectAlternativeNames = { uris: [], emails: [], dnsNames: [], ipAddresses: [], otherNames: [] };
  if (!extnValue) return names;
  const sequence = ASN1Obj.parseBuffer(Buffer.from(extnValue.value));
  for (const name of sequence.subs) {
    if (name.tag.class !== 2) continue; // GeneralName is a CHOICE of context-specific tags
    switch (name.tag.number) {
      case 0: {
        const [type, explicit] = name.subs;
        if (type && explicit) names.otherNames.push({ oid: type.toOID(), value: otherNameValue(explicit) });
        break;
      }
      case 1:
        names.emails.push(name.value.toString('utf8'));
        break;
      case 2:
        names.dnsNames.push(name.value.toString('utf8'));
        break;
      case 6:
        names.uris.push(name.value.toString('utf8'));
        break;
      case 7:
        names.ipAddresses.push(ipAddress(name.value));
        break;
    }
  }
  return names;
}

function otherNameValue(explicit: ASN1Obj): string {
  const inner = explicit.subs[0];
  if (!inner) return '';
  return inner.tag.class === 0 && [12, 19, 22].includes(inner.tag.number) ? inner.value.toString('utf8') : `#${inner.toDER().toString('hex').toUpperCase()}`;
}

/** As openssl prints them: dotted IPv4, IPv6 as eight upper-case hex groups joined by colons. */
function ipAddress(bytes: Buffer): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16)
    return Array.from({ length: 8 }, (_, i) =>
      bytes
        .readUInt16BE(i * 2)
        .toString(16)
        .toUpperCase(),
    ).join(':');
  return `#${bytes.toString('hex').toUpperCase()}`;
}

function fulcioExtensions(extensions: Map<string, ASN1Obj>): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [oid, extnValue] of extensions) {
    if (!oid.startsWith(FULCIO_ARC)) continue;
    const known = FULCIO_EXTENSIONS[Number(oid.slice(FULCIO_ARC.length))];
    if (!known) continue;
    const value = known.der ? derUtf8String(extnValue.value) : extnValue.value.toString('utf8');
    if (value !== undefined) found[known.name] = value;
  }
  return found;
}

function derUtf8String(bytes: Buffer): string | undefined {
  try {
    const inner = ASN1Obj.parseBuffer(Buffer.from(bytes));
    return inner.tag.class === 0 && inner.tag.number === 12 ? inner.value.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

function publicKeyDetails(spki: ASN1Obj): PublicKeyDetails {
  const algorithmOid = spki.subs[0]!.subs[0]!.toOID();
  const algorithm = KEY_ALGORITHMS[algorithmOid] ?? algorithmOid;
  try {
    const key = createPublicKey({ key: spki.toDER(), format: 'der', type: 'spki' });
    const details = key.asymmetricKeyDetails ?? {};
    if (key.asymmetricKeyType === 'ec') {
      const curve = details.namedCurve ?? null;
      return { algorithm, bits: curve ? (CURVE_BITS[curve] ?? null) : null, curve };
    }
    if (key.asymmetricKeyType === 'ed25519') return { algorithm, bits: 253, curve: null };
    if (key.asymmetricKeyType === 'ed448') return { algorithm, bits: 456, curve: null };
    return { algorithm, bits: details.modulusLength ?? null, curve: null };
  } catch {
    return { algorithm, bits: null, curve: null };
  }
}
