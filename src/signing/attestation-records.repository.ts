import { Injectable } from '@nestjs/common';
import { type Bundle, bundleToJSON } from '@sigstore/bundle';
import { DatabaseService } from '../database/database.service';
import type { AttestationRow } from '../database/database.types';

export interface NewAttestationRecord {
  jobId: string;
  repository: string;
  manifestDigest: string;
  predicateType: string;
  statementDigest: string;
  bundle: Bundle;
  entryUuid: string | null;
  identity: string;
  issuer: string;
  caller: string | null;
}

/** One attestation per job and predicate type: a re-run attest step finds the one it recorded. */
@Injectable()
export class AttestationRecords {
  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db;
  }

  find(jobId: string, predicateType: string): Promise<AttestationRow | undefined> {
    return this.db.selectFrom('attestations').selectAll().where('job_id', '=', jobId).where('predicate_type', '=', predicateType).executeTakeFirst();
  }

  async insert(record: NewAttestationRecord): Promise<AttestationRow> {
    const entry = record.bundle.verificationMaterial.tlogEntries[0]!;
    await this.db
      .insertInto('attestations')
      .values({
        job_id: record.jobId,
        repository: record.repository,
        manifest_digest: record.manifestDigest,
        predicate_type: record.predicateType,
        statement_digest: record.statementDigest,
        rekor_log_index: Number(entry.logIndex),
        rekor_entry_uuid: record.entryUuid,
        rekor_integrated_time: new Date(Number(entry.integratedTime) * 1000),
        identity: record.identity,
        issuer: record.issuer,
        bundle: JSON.stringify(bundleToJSON(record.bundle)),
        caller: record.caller,
      })
      .onConflict((oc) => oc.columns(['job_id', 'predicate_type']).doNothing())
      .execute();
    return (await this.find(record.jobId, record.predicateType))!;
  }
}
