import { Injectable } from '@nestjs/common';
import { DatabaseService } from '../database/database.service';
import type { SignatureVerdict, VerificationRow } from '../database/database.types';
import type { ArtifactVerificationDto } from './artifact-verification.dto';

export interface NewVerification {
  /** The reference as the caller gave it. */
  reference: string;
  policy: Record<string, unknown>;
  trustRoot: string;
  answer: ArtifactVerificationDto;
  jobId?: string | null;
  caller?: string | null;
}

/** Verification records: each artifact verification and its verdict. */
@Injectable()
export class VerificationRecords {
  constructor(private readonly database: DatabaseService) {}

  /** Records a verification; a job's record is replaced when its verify step runs again. */
  record(verification: NewVerification): Promise<VerificationRow> {
    const { answer } = verification;
    const values = {
      reference: verification.reference,
      repository: answer.reference.slice(0, answer.reference.lastIndexOf('@')),
      digest: answer.digest,
      policy: JSON.stringify(verification.policy),
      trust_root: verification.trustRoot,
      verified: answer.verified,
      error_code: answer.error?.code ?? null,
      error_message: answer.error?.message ?? null,
      signatures: JSON.stringify(answer.signatures satisfies SignatureVerdict[]),
      job_id: verification.jobId ?? null,
      caller: verification.caller ?? null,
    };
    const { job_id: _job, reference: _reference, caller: _caller, ...verdict } = values;
    return this.database.db
      .insertInto('verifications')
      .values(values)
      .onConflict((oc) => oc.column('job_id').where('job_id', 'is not', null).doUpdateSet(verdict))
      .returningAll()
      .executeTakeFirstOrThrow();
  }
}
