import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool } from './required-tool';

/** Whether openssl is installed; under CI its absence is an error (see hasTool). */
export const hasOpenssl = hasTool('openssl', ['version']);

/** What the openssl command prints about a PEM certificate: names, SANs and the Fulcio issuer extension. */
export interface OpensslCertificateFacts {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  serial: string;
  fingerprintSha256: string;
  uris: string[];
  emails: string[];
  /** Extension 1.3.6.1.4.1.57264.1.8 (a DER UTF8String) as `openssl asn1parse` dumps it, decoded. */
  fulcioIssuer: string | null;
}

export function opensslCertificateFacts(pem: string): OpensslCertificateFacts {
  const run = (...args: string[]) => execFileSync('openssl', args, { input: pem, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const summary = Object.fromEntries(
    run('x509', '-noout', '-subject', '-issuer', '-dates', '-serial', '-fingerprint', '-sha256', '-nameopt', 'oneline,-space_eq,-esc_msb')
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const sans = (run('x509', '-noout', '-ext', 'subjectAltName').split('\n')[1] ?? '').trim().split(', ').filter(Boolean);
  const asn1 = run('asn1parse').split('\n');
  const at = asn1.findIndex((line) => line.endsWith(':1.3.6.1.4.1.57264.1.8'));
  const hex = at < 0 ? undefined : /\[HEX DUMP\]:([0-9A-F]+)/.exec(asn1[at + 1] ?? '')?.[1];
  return {
    subject: summary.subject!,
    issuer: summary.issuer!,
    notBefore: summary.notBefore!,
    notAfter: summary.notAfter!,
    serial: summary.serial!,
    fingerprintSha256: summary['sha256 Fingerprint']!,
    uris: sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
    emails: sans.filter((s) => s.startsWith('email:')).map((s) => s.slice(6)),
    // tag 0x0C (UTF8String), one length byte, the text
    fulcioIssuer: hex ? Buffer.from(hex, 'hex').subarray(2).toString('utf8') : null,
  };
}

/** A P-256 key and self-signed certificate made by openssl for this run: the files and their PEM text. */
export function selfSignedCertificate(subject: string, options: { subjectAltName?: string } = {}): { keyFile: string; certFile: string; key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wasm-signer-cert-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const san = options.subjectAltName ? ['-addext', `subjectAltName=${options.subjectAltName}`] : [];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', subject, ...san, '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  return { keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}
