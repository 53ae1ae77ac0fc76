import type { SignatureRow } from '../database/database.types';
import type { SignatureSummary } from '../pipeline/job-catalogue';

export type { SignatureSummary };

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
