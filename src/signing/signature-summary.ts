import type { SignatureRow } from '../database/database.types';

/** A signature as a job result lists it. */
export interface SignatureSummary {
  id: string;
  format: SignatureRow['format'];
  logIndex: number;
  entryUuid: string;
  integratedTime: string;
  identity: string;
  issuer: string;
}

export function signatureSummary(row: SignatureRow): SignatureSummary {
  return {
    id: row.id,
    format: row.format,
    logIndex: row.rekor_log_index,
    entryUuid: row.rekor_entry_uuid,
    integratedTime: row.rekor_integrated_time.toISOString(),
    identity: row.identity,
    issuer: row.issuer,
  };
}
