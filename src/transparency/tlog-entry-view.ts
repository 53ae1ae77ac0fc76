import { CertificateDecodeError, type CertificateDetails, certificateDetails } from '../x509/certificate-details';
import { entryCertificates, parseEntryBody, type RekorEntryBody } from '../sigstore/rekor-entry-body';
import type { TlogEntry } from '../sigstore/tlog-entry';
import type { TlogEntryVerification } from '../sigstore/tlog-entry-verification';

/** Where an answered entry came from: the log itself, or the service's own signature records. */
export type TlogEntrySource = 'rekor' | 'records';

/** A log entry as `rekor-cli get` prints it, with what was verified and the signer's certificate. */
export interface TlogEntryView {
  LogID: string;
  Index: number;
  /** RFC 3339, UTC, whole seconds. */
  IntegratedTime: string;
  UUID: string;
  Body: RekorEntryBody;
  source: TlogEntrySource;
  inclusionProof: { logIndex: number; treeSize: number; rootHash: string; hashes: string[]; checkpoint: string | null } | null;
  verification: TlogEntryVerification;
  certificate: { pem: string; decoded: CertificateDetails } | null;
}

export function tlogEntryView(entry: TlogEntry, source: TlogEntrySource, verification: TlogEntryVerification): TlogEntryView {
  const body = parseEntryBody(entry.body);
  const proof = entry.inclusionProof;
  return {
    LogID: entry.logId,
    Index: entry.logIndex,
    IntegratedTime: new Date(entry.integratedTime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    UUID: entry.uuid,
    Body: body,
    source,
    inclusionProof: proof
      ? {
          logIndex: Number(proof.logIndex),
          treeSize: Number(proof.treeSize),
          rootHash: proof.rootHash.toString('hex'),
          hashes: proof.hashes.map((h) => h.toString('hex')),
          checkpoint: proof.checkpoint,
        }
      : null,
    verification,
    certificate: firstCertificate(body),
  };
}

function firstCertificate(body: RekorEntryBody): TlogEntryView['certificate'] {
  for (const pem of entryCertificates(body)) {
    try {
      return { pem, decoded: certificateDetails(pem) };
    } catch (error) {
      if (!(error instanceof CertificateDecodeError)) throw error;
    }
  }
  return null;
}
