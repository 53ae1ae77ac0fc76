import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCertificatePem, fixtureText } from '../sigstore/__fixtures__/vectors';
import { CertificateDecodeError, type CertificateDetails, certificateDetails, opensslTime } from './certificate-details';
import { pemToDer } from './pem';

const publicGood = bundleCertificatePem('public-good-hashedrekord.sigstore.json');
const localStack = fixtureText('local-stack-leaf.pem');

describe('certificateDetails', () => {
  it('decodes a public-good Fulcio certificate', () => {
    const details = certificateDetails(publicGood);
    expect(details).toMatchObject({
      subject: '',
      issuer: 'O=sigstore.dev, CN=sigstore-intermediate',
      serialNumber: '68BFEDB264131E4DB59ADD54BA4FB0EDABC3073E',
      notBefore: '2024-03-19T17:26:26.000Z',
      notAfter: '2024-03-19T17:36:26.000Z',
      notBeforeText: 'Mar 19 17:26:26 2024 GMT',
      notAfterText: 'Mar 19 17:36:26 2024 GMT',
      fingerprintSha256: '1D:14:E1:E5:27:67:B3:DD:FF:78:95:03:8B:50:E6:80:A0:6F:6B:C6:1A:50:63:4F:51:61:2D:BA:9D:5F:27:B8',
      oidcIssuer: 'https://token.actions.githubusercontent.com',
      publicKey: { algorithm: 'id-ecPublicKey', bits: 256, curve: 'prime256v1' },
      signatureAlgorithm: 'ecdsa-with-SHA384',
    });
    const workflow = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
    expect(details.subjectAlternativeNames).toEqual({ uris: [workflow], emails: [], dnsNames: [], ipAddresses: [], otherNames: [] });
    expect(details.fulcioExtensions).toMatchObject({
      issuerV1: 'https://token.actions.githubusercontent.com',
      githubWorkflowTrigger: 'workflow_dispatch',
      issuer: 'https://token.actions.githubusercontent.com',
      buildSignerUri: workflow,
      buildSignerDigest: 'c7b3dfb335f051e1c86bda4c716fac97df62ad81',
      runnerEnvironment: 'github-hosted',
      sourceRepositoryUri: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      sourceRepositoryIdentifier: '632596897',
      runInvocationUri: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/actions/runs/8347481628/attempts/1',
      sourceRepositoryVisibilityAtSigning: 'public',
    });
    expect(Object.keys(details.fulcioExtensions)).toHaveLength(21);
  });

  it('decodes a certificate of the local stack: the Kubernetes service-account identity and the local issuer', () => {
    const details = certificateDetails(localStack);
    expect(details.subject).toBe('');
    expect(details.issuer).toBe('CN=sigstore, O=sigstore.mock');
    expect(details.subjectAlternativeNames.uris).toEqual(['https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer']);
    expect(details.oidcIssuer).toBe('http://127.0.0.1:5550');
  });

  it('takes the DER as well as the PEM', () => {
    expect(certificateDetails(pemToDer(publicGood))).toEqual(certificateDetails(publicGood));
  });

  it('prints dates as openssl does, padding a one-digit day with a space', () => {
    expect(opensslTime(new Date('2026-03-09T07:05:01Z'))).toBe('Mar  9 07:05:01 2026 GMT');
    expect(opensslTime(new Date('2026-11-25T17:49:54Z'))).toBe('Nov 25 17:49:54 2026 GMT');
  });

  it('refuses what is not a certificate', () => {
    expect(() => certificateDetails('not a pem')).toThrow(CertificateDecodeError);
    expect(() => certificateDetails(Buffer.from([0x30, 0x03, 0x02, 0x01]))).toThrow(CertificateDecodeError);
    expect(() => certificateDetails(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(CertificateDecodeError);
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
// Skipped locally without openssl; under CI (which installs it: .ci/run) its absence is a failure.
if (!hasOpenssl && process.env.CI) throw new Error('openssl is required when CI is set, and it is missing (Debian: apt-get install openssl)');

/** The same facts, from the openssl command. */
function opensslFacts(pem: string, dir: string): Omit<CertificateDetails, 'notBefore' | 'notAfter' | 'fulcioExtensions'> & { fulcioIssuerExtension: string | null } {
  const file = join(dir, `cert-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, pem);
  const run = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const summary = Object.fromEntries(
    run('x509', '-in', file, '-noout', '-subject', '-issuer', '-dates', '-serial', '-fingerprint', '-sha256', '-nameopt', 'oneline,-space_eq,-esc_msb')
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const sanText = run('x509', '-in', file, '-noout', '-ext', 'subjectAltName').split('\n')[1]?.trim() ?? '';
  const sans = sanText ? sanText.split(', ') : [];
  const pick = (prefix: string) => sans.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
  const text = run('x509', '-in', file, '-noout', '-text');
  const line = (pattern: RegExp) => pattern.exec(text)?.[1] ?? null;
  return {
    subject: summary.subject!,
    issuer: summary.issuer!,
    notBeforeText: summary.notBefore!,
    notAfterText: summary.notAfter!,
    serialNumber: summary.serial!,
    fingerprintSha256: summary['sha256 Fingerprint']!,
    subjectAlternativeNames: {
      uris: pick('URI:'),
      emails: pick('email:'),
      dnsNames: pick('DNS:'),
      ipAddresses: pick('IP Address:'),
      otherNames: pick('othername: ').map((s) => ({ oid: s.slice(0, s.indexOf('::')), value: s.slice(s.indexOf('::') + 2) })),
    },
    oidcIssuer: fulcioIssuer(run('asn1parse', '-in', file)),
    fulcioIssuerExtension: fulcioIssuer(run('asn1parse', '-in', file)),
    publicKey: {
      algorithm: line(/Public Key Algorithm: (\S+)/)!,
      bits: Number(line(/Public-Key: \((\d+) bit\)/)) || (line(/(ED25519) Public-Key:/) ? 253 : null),
      curve: line(/ASN1 OID: (\S+)/),
    },
    signatureAlgorithm: line(/Signature Algorithm: (\S+)/)!,
  };
}

/** The issuer extension as `openssl asn1parse` dumps it: .1.8 (a DER UTF8String, hex dumped) else .1.1 (raw text). */
function fulcioIssuer(asn1parse: string): string | null {
  const valueAfter = (oid: string) => {
    const lines = asn1parse.split('\n');
    const at = lines.findIndex((l) => l.endsWith(`:${oid}`));
    return at < 0 ? undefined : lines[at + 1]!.replace(/^.*OCTET STRING\s+/, '');
  };
  const v2 = valueAfter('1.3.6.1.4.1.57264.1.8');
  if (v2 !== undefined) {
    const der = Buffer.from(v2.replace('[HEX DUMP]:', ''), 'hex');
    expect(der[0]).toBe(0x0c); // UTF8String, short length
    return der.subarray(2).toString('utf8');
  }
  const v1 = valueAfter('1.3.6.1.4.1.57264.1.1');
  return v1 === undefined ? null : v1.replace(/^:/, '');
}

(hasOpenssl ? describe : describe.skip)('certificateDetails agrees with the openssl command', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'certificate-details-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expectSameAsOpenssl = (pem: string) => {
    const ours = certificateDetails(pem);
    const theirs = opensslFacts(pem, dir);
    expect({
      subject: ours.subject,
      issuer: ours.issuer,
      notBeforeText: ours.notBeforeText,
      notAfterText: ours.notAfterText,
      serialNumber: ours.serialNumber,
      fingerprintSha256: ours.fingerprintSha256,
      subjectAlternativeNames: ours.subjectAlternativeNames,
      oidcIssuer: ours.oidcIssuer,
      fulcioIssuerExtension: ours.fulcioExtensions.issuer ?? ours.fulcioExtensions.issuerV1 ?? null,
      publicKey: ours.publicKey,
      signatureAlgorithm: ours.signatureAlgorithm,
    }).toEqual(theirs);
    return ours;
  };

  /** A self-signed certificate made by `openssl req` with the given options. */
  const generate = (name: string, args: string[], config?: string): string => {
    const out = join(dir, `${name}.pem`);
    const extra = config === undefined ? [] : ['-config', join(dir, `${name}.cnf`)];
    if (config !== undefined) writeFileSync(join(dir, `${name}.cnf`), config);
    execFileSync('openssl', ['req', '-x509', '-nodes', '-days', '1', '-keyout', join(dir, `${name}.key`), '-out', out, ...extra, ...args], { stdio: 'pipe' });
    return readFileSync(out, 'utf8');
  };

  it('for a public-good Fulcio certificate', () => {
    expectSameAsOpenssl(publicGood);
  });

  it('for a certificate of the local stack', () => {
    expectSameAsOpenssl(localStack);
  });

  it('for names with RFC 2253 special characters, a multi-valued RDN and UTF-8; EC P-384; email, URI, DNS and IP names', () => {
    const pem = generate('special', [
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-384',
      '-utf8',
      '-subj',
      '/CN=Jürgen, "Q" <x>;y\\+z/O=Acme+OU=Dev/emailAddress=a@b.c/C=DE/serialNumber=123/DC=example/ST= lead/L=trail #/',
      '-addext',
      'subjectAltName=email:a@b.c,URI:https://x.example/y,DNS:x.example,IP:10.0.0.1,IP:2001:db8::1',
    ]);
    const ours = expectSameAsOpenssl(pem);
    expect(ours.subject).toContain('CN="Jürgen, \\"Q\\" <x>;y+z"');
    expect(ours.subject).toContain('OU=Dev + O=Acme');
  });

  it('for backslashes, control characters and non-Latin text; RSA', () => {
    const ours = expectSameAsOpenssl(generate('control', ['-newkey', 'rsa:2048', '-utf8', '-subj', '/C=US/O=Back\\\\slash/CN=a\x01b\x7fc/OU=Ω unicode ☃/']));
    expect(ours.publicKey).toEqual({ algorithm: 'rsaEncryption', bits: 2048, curve: null });
  });

  it('for an attribute OpenSSL has no name for, a leading #, Fulcio extensions and an otherName; Ed25519', () => {
    const config = [
      'oid_section = oids',
      '[ oids ]',
      'testAttr = 1.2.3.4',
      '[ req ]',
      'distinguished_name = dn',
      'prompt = no',
      'utf8 = yes',
      'string_mask = utf8only',
      '[ dn ]',
      'CN = \\#hash lead',
      'testAttr = custom value',
      'O = Ex\\, ample',
      '',
    ].join('\n');
    const pem = generate(
      'fulcio',
      [
        '-newkey',
        'ed25519',
        '-addext',
        'subjectAltName=otherName:1.3.6.1.4.1.57264.1.7;UTF8:someone@example',
        '-addext',
        '1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:https://issuer.example',
        '-addext',
        '1.3.6.1.4.1.57264.1.1=DER:68747470733a2f2f6c65676163792e6578616d706c65',
        '-addext',
        '1.3.6.1.4.1.57264.1.9=ASN1:UTF8String:https://signer.example/wf@refs/heads/main',
      ],
      config,
    );
    const ours = expectSameAsOpenssl(pem);
    expect(ours.subject).toBe('CN="#hash lead", 1.2.3.4=custom value, O="Ex, ample"');
    expect(ours.oidcIssuer).toBe('https://issuer.example');
    expect(ours.fulcioExtensions).toEqual({ issuer: 'https://issuer.example', issuerV1: 'https://legacy.example', buildSignerUri: 'https://signer.example/wf@refs/heads/main' });
  });

  it('for the legacy issuer extension alone', () => {
    const ours = expectSameAsOpenssl(
      generate('legacy', [
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-subj',
        '/CN=legacy/',
        '-addext',
        '1.3.6.1.4.1.57264.1.1=DER:68747470733a2f2f6c65676163792e6578616d706c65',
      ]),
    );
    expect(ours.oidcIssuer).toBe('https://legacy.example');
  });
});
