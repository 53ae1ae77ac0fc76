import { Injectable, OnModuleInit } from '@nestjs/common';
import type { JobRow } from '../database/database.types';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { parseRepository } from '../registry/oci-reference';
import { ArtifactVerificationService, type VerifyJobInput, readPolicy } from './artifact-verification.service';
import { VerificationRecords } from './verification-records.repository';

/** The step of a standalone verify job: the answer of POST /v1/verifications, as the job's result. */
@Injectable()
export class VerifyStep implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly verifications: ArtifactVerificationService,
    private readonly records: VerificationRecords,
  ) {}

  onModuleInit(): void {
    this.handlers.register({ jobType: 'verify', step: 'verify', run: (job, context) => this.run(job, context.signal) });
  }

  async run(job: JobRow, signal: AbortSignal): Promise<Record<string, unknown>> {
    const input = job.input as unknown as VerifyJobInput;
    const answer = await this.verifications.verifyDigest(parseRepository(input.repository), input.digest, readPolicy(input.policy), input.trustRoot, signal);
    await this.records.record({ reference: input.reference, policy: input.policy, trustRoot: input.trustRoot, answer, jobId: job.id, caller: job.caller });
    return { ...answer };
  }
}
