import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

import { certificateIdentity } from './certificate-identity';

const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const NOT_BEFORE = new Date('2026-01-01T10:00:00Z');
const NOT_AFTER = new Date('2026-01-01T10:10:00Z');

/** DER UTF8String (short form length: fine for the values below). */
const utf8String = (text: string): Buffer => {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 127) throw new Error('short-form length only');
  return Buffer.concat([Buffer.from([0x0c, bytes.length]), bytes]);
};

type SanEntry = { type: 'url' | 'email' | 'dns'; value: string };

/** A certificate shaped like Fulcio's: ten minutes long, SAN critical, Fulcio's extensions as given. */
async function fulcioStyleCertificate(san: SanEntry[], extensions: { oid: string; value: Buffer }[]): Promise<Buffer> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '3c5f',
    name: 'O=sigstore.dev',
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
      ...(san.length > 0 ? [new x509.SubjectAlternativeNameExtension(san, true)] : []),
      ...extensions.map((e) => new x509.Extension(e.oid, false, e.value)),
    ],
  });
  return Buffer.from(certificate.rawData);
}

describe('certificateIdentity', () => {
  beforeAll(() => {
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  });

  it('reads the SAN URI, the .1.8 issuer (DER UTF8String) and the validity of a Fulcio certificate', async () => {
    const der = await fulcioStyleCertificate(
      [{ type: 'url', value: 'https://kubernetes.io/namespaces/apps/serviceaccounts/signer' }],
      [{ oid: OID_ISSUER_V2, value: utf8String('https://kubernetes.default.svc.cluster.local') }],
    );
    expect(certificateIdentity(der)).toEqual({
      identity: 'https://kubernetes.io/namespaces/apps/serviceaccounts/signer',
      issuer: 'https://kubernetes.default.svc.cluster.local',
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
    });
  });

  it('reads the legacy .1.1 issuer, which holds the raw issuer bytes', async () => {
    const der = await fulcioStyleCertificate(
      [{ type: 'url', value: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main' }],
      [{ oid: OID_ISSUER_V1, value: Buffer.from('https://token.actions.githubusercontent.com') }],
    );
    expect(certificateIdentity(der)).toMatchObject({
      identity: 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
      issuer: 'https://token.actions.githubusercontent.com',
    });
  });

  it('prefers .1.8 over .1.1 when a certificate carries both (Fulcio writes both)', async () => {
    const der = await fulcioStyleCertificate(
      [{ type: 'url', value: 'https://example.com/workload' }],
      [
        { oid: OID_ISSUER_V1, value: Buffer.from('https://legacy.example') },
        { oid: OID_ISSUER_V2, value: utf8String('https://current.example') },
      ],
    );
    expect(certificateIdentity(der).issuer).toBe('https://current.example');
  });

  it('reads an email SAN', async () => {
    const der = await fulcioStyleCertificate([{ type: 'email', value: 'release-bot@example.com' }], [{ oid: OID_ISSUER_V2, value: utf8String('https://accounts.google.com') }]);
    expect(certificateIdentity(der)).toMatchObject({ identity: 'release-bot@example.com', issuer: 'https://accounts.google.com' });
  });

  it('gives empty strings when the certificate has no SAN identity and no issuer extension', async () => {
    const der = await fulcioStyleCertificate([{ type: 'dns', value: 'not-an-identity.example' }], []);
    expect(certificateIdentity(der)).toEqual({ identity: '', issuer: '', notBefore: NOT_BEFORE, notAfter: NOT_AFTER });
    const bare = await fulcioStyleCertificate([], []);
    expect(certificateIdentity(bare)).toMatchObject({ identity: '', issuer: '' });
  });

  it('keeps non-ASCII issuer text intact', async () => {
    const der = await fulcioStyleCertificate([{ type: 'url', value: 'https://example.com/w' }], [{ oid: OID_ISSUER_V2, value: utf8String('https://idp.example/tenant/zürich') }]);
    expect(certificateIdentity(der).issuer).toBe('https://idp.example/tenant/zürich');
  });

  it('refuses bytes that are not a certificate', () => {
    expect(() => certificateIdentity(Buffer.from('not a certificate'))).toThrow();
  });
});
