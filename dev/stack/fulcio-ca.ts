import { join } from 'node:path';
import { X509Certificate, pem } from '@sigstore/core';
// Deep imports on purpose: the package root also loads nock, which patches node:http for the whole process.
import { initializeCA, initializeCTLog } from '@sigstore/mock/dist/fulcio';
import type { CA, CertificateRequestOptions } from '@sigstore/mock/dist/fulcio/ca';
import { createFileExclusive, readFileIfExists, writeFileAtomic } from '../../src/common/atomic-file';
import { keyId, loadOrCreateKeyPair, type Bytes, type StoredKeyPair } from './key-material';

/** Renew the persisted root when it has less than this left (the mock's roots live one year). */
const ROOT_RENEWAL_MARGIN_MS = 30 * 24 * 60 * 60 * 1000;

export interface FulcioAuthority {
  /** Issues a leaf certificate with an embedded SCT (the mock CA and CT log). */
  issueCertificate(options: CertificateRequestOptions): Promise<Bytes>;
  /** DER of the CA's root certificate as persisted (what trusted_root.json lists). */
  readonly rootCertificate: Bytes;
  readonly ctLog: { readonly publicKeyDer: Bytes; readonly logId: Bytes; readonly createdAt: Date };
}

/**
 * Loads (or creates) the Fulcio CA and CT log keys and the CA root certificate under
 * `<stateDir>/fulcio/`, and issues certificates with @sigstore/mock's CA and CT log.
 *
 * Work-around: the mock's `initializeCA` self-signs a new root on every call (new notBefore, new
 * signature), so a restart would change trusted_root.json even with the same key. The leaves it
 * issues depend only on the CA key and its fixed issuer name, so they chain to any root made with
 * that key: the first root is kept on disk and presented ever after, and the fresh one is ignored.
 */
export async function loadOrCreateFulcioAuthority(stateDir: string, now: () => Date = () => new Date()): Promise<FulcioAuthority> {
  const dir = join(stateDir, 'fulcio');
  const caKey = await loadOrCreateKeyPair(join(dir, 'ca-key.json'));
  const ctKey = await loadOrCreateKeyPair(join(dir, 'ctlog-key.json'));
  const ctLog = await initializeCTLog(ctKey);
  const mockCa: CA = await initializeCA(caKey, ctLog);
  const rootCertificate = await persistedRoot(
    join(dir, 'ca-root.pem'),
    caKey,
    Buffer.from(mockCa.rootCertificate.buffer, mockCa.rootCertificate.byteOffset, mockCa.rootCertificate.byteLength),
    now(),
  );
  return {
    rootCertificate,
    ctLog: { publicKeyDer: ctKey.publicKeyDer, logId: keyId(ctKey.publicKeyDer), createdAt: ctKey.createdAt },
    async issueCertificate(options) {
      const der = await mockCa.issueCertificate(options);
      return Buffer.from(der.buffer, der.byteOffset, der.byteLength);
    },
  };
}

async function persistedRoot(file: string, caKey: StoredKeyPair, freshRoot: Bytes, now: Date): Promise<Bytes> {
  const existing = await readFileIfExists(file);
  if (existing) {
    const cert = X509Certificate.parse(existing.toString('utf8'));
    const sameKey = cert.publicKey.equals(caKey.publicKeyDer);
    const fresh = cert.notAfter.getTime() - now.getTime() > ROOT_RENEWAL_MARGIN_MS;
    if (sameKey && fresh) return pem.toDER(existing.toString('utf8'));
    // The root expired soon or belongs to another key: replace it (trusted_root.json changes).
    await writeFileAtomic(file, pem.fromDER(freshRoot));
    return freshRoot;
  }
  if (await createFileExclusive(file, pem.fromDER(freshRoot))) return freshRoot;
  const winner = await readFileIfExists(file);
  if (!winner) throw new Error(`${file} vanished while it was being created`);
  return pem.toDER(winner.toString('utf8'));
}
