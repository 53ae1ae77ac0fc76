import type { ASN1Obj } from '@sigstore/core';

/**
 * X.501 distinguished names printed on one line the way OpenSSL prints them with
 * `-nameopt oneline,-space_eq,-esc_msb`: attributes in certificate order, short names (`CN`, `O`,
 * `emailAddress`; the dotted OID when OpenSSL has no short name), RDNs separated by `, ` and the
 * attributes of a multi-valued RDN by ` + `, values in UTF-8 with RFC 2253 special characters quoted,
 * control characters escaped as `\XX`, and non-string values dumped as `#<hex DER>`.
 * Example: `O=sigstore.dev, CN=sigstore-intermediate`.
 */
export function formatDistinguishedName(name: ASN1Obj): string {
  return name.subs.map((rdn) => rdn.subs.map(formatAttribute).join(' + ')).join(', ');
}

/** OpenSSL's short names of the attribute types found in certificate names. */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.3.6.1.4.1.311.60.2.1.1': 'jurisdictionL',
  '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

/** Universal string tags and how many bytes each character takes (0: UTF-8). Others are dumped. */
const STRING_TAGS: Record<number, 0 | 1 | 2 | 4> = {
  12: 0, // UTF8String
  18: 1, // NumericString
  19: 1, // PrintableString
  20: 1, // T61String (read as Latin-1, as OpenSSL does)
  22: 1, // IA5String
  23: 1, // UTCTime
  24: 1, // GeneralizedTime
  26: 1, // VisibleString
  28: 4, // UniversalString
  30: 2, // BMPString
};

/** RFC 2253 characters that make OpenSSL quote the value (with `use_quote`) … */
const QUOTED = new Set([',', '+', '<', '>', ';']);
/** … and the ones it escapes with a backslash. */
const BACKSLASHED = new Set(['"', '\\']);

function formatAttribute(attribute: ASN1Obj): string {
  const [type, value] = attribute.subs;
  if (!type || !value) throw new Error('malformed name attribute');
  const oid = type.toOID();
  return `${SHORT_NAMES[oid] ?? oid}=${formatValue(value)}`;
}

function formatValue(value: ASN1Obj): string {
  const width = value.tag.class === 0 && !value.tag.constructed ? STRING_TAGS[value.tag.number] : undefined;
  if (width === undefined) return `#${value.toDER().toString('hex').toUpperCase()}`;
  return escapeValue(decodeString(value.value, width));
}

function decodeString(bytes: Buffer, width: 0 | 1 | 2 | 4): string {
  switch (width) {
    case 0:
      return bytes.toString('utf8');
    case 1:
      return bytes.toString('latin1');
    case 2:
      return String.fromCharCode(...Array.from({ length: bytes.length >> 1 }, (_, i) => bytes.readUInt16BE(i * 2)));
    case 4:
      return String.fromCodePoint(...Array.from({ length: bytes.length >> 2 }, (_, i) => bytes.readUInt32BE(i * 4)));
  }
}

function escapeValue(text: string): string {
  const chars = Array.from(text);
  let quote = false;
  const out = chars.map((char, index) => {
    const code = char.codePointAt(0)!;
    if (QUOTED.has(char) || ((char === ' ' || char === '#') && index === 0) || (char === ' ' && index === chars.length - 1)) {
      quote = true;
      return char;
    }
    if (BACKSLASHED.has(char)) return `\\${char}`;
    if (code < 0x20 || code === 0x7f) return `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    return char;
  });
  const joined = out.join('');
  return quote ? `"${joined}"` : joined;
}
