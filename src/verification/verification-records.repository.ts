import { randomUUID } from 'node:crypto';
import { type BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from '../database/database.service';
import type { SignatureVerdict, VerificationRow } from '../database/database.types';
import { GroupCommit } from '../database/group-commit';
import type { ArtifactVerificationDto } from './artifact-verification.dto';

export interface NewVerification {
  /** The reference as the caller gave it. */
  reference: string;
  policy: Record<string, unknown>;
  trustRoot: string;
  answer: ArtifactVerificationDto;
  jobId?: string | null;
  caller?: string | null;
  /** The policy as JSON, when the caller has it already (a verification answered from the cache). */
  policyJson?: string;
  /** The answer's signatures as JSON, likewise. */
  signaturesJson?: string;
}

/** Records per statement, and statements at once. */
const RECORD_BATCHES = { maxRows: 128, maxInFlight: 4 };

/**
 * Verification records: each artifact verification and its verdict. Records of verifications answered
 * at once (no job) are written with those of concurrent requests as one INSERT (group commit): each
 * caller waits for the statement holding its record, so an answer never goes out before its record is
 * stored. A job's record is written alone (it replaces the record of an earlier run of its step).
 */
@Injectable()
export class VerificationRecords implements BeforeApplicationShutdown {
  private readonly batches = new GroupCommit<NewVerification, VerificationRow>({ writeBatch: (rows) => this.insertBatch(rows), ...RECORD_BATCHES });

  constructor(private readonly database: DatabaseService) {}

  /** Records a verification; a job's record is replaced when its verify step runs again. */
  record(verification: NewVerification): Promise<VerificationRow> {
    if (verification.jobId == null) return this.batches.add(verification);
    const values = rowValues(verification);
    const { job_id: _job, reference: _reference, caller: _caller, ...verdict } = values;
    return this.database.db
      .insertInto('verifications')
      .values(values)
      .onConflict((oc) => oc.column('job_id').where('job_id', 'is not', null).doUpdateSet(verdict))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Every record handed over so far is written (or refused) before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.batches.drain();
  }

  /**
   * Records without a job as one INSERT. Ids are made here, so each caller gets its own row back without
   * relying on the order of RETURNING; `clock_timestamp()` keeps the order they were handed over in.
   */
  private async insertBatch(verifications: NewVerification[]): Promise<VerificationRow[]> {
    const ids = verifications.map(() => randomUUID());
    const rows = await this.database.db
      .insertInto('verifications')
      .values(verifications.map((verification, i) => ({ ...rowValues(verification), id: ids[i]!, created_at: sql<Date>`clock_timestamp()` })))
      .returningAll()
      .execute();
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      if (!row) throw new Error(`verification record ${id} was not returned by its INSERT`);
      return row;
    });
  }
}

function rowValues(verification: NewVerification) {
  const { answer } = verification;
  return {
    reference: verification.reference,
    repository: answer.reference.slice(0, answer.reference.lastIndexOf('@')),
    digest: answer.digest,
    policy: verification.policyJson ?? JSON.stringify(verification.policy),
    trust_root: verification.trustRoot,
    verified: answer.verified,
    error_code: answer.error?.code ?? null,
    error_message: answer.error?.message ?? null,
    signatures: verification.signaturesJson ?? JSON.stringify(answer.signatures satisfies SignatureVerdict[]),
    job_id: verification.jobId ?? null,
    caller: verification.caller ?? null,
  };
}
