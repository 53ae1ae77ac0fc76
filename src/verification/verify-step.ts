import { Injectable, OnModuleInit } from '@nestjs/common';
import type { CatalogueJob, VerificationAnswer } from '../pipeline/job-catalogue';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { parseRepository } from '../registry/oci-reference';
import { ArtifactVerificationService, readPolicy } from './artifact-verification.service';
import type { ArtifactPolicy } from './artifact-verification';
import { VerificationError } from './verification-errors';
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

  async run(job: CatalogueJob<'verify'>, signal: AbortSignal): Promise<VerificationAnswer> {
    const { input } = job;
    const answer = await this.verifications.verifyDigest(parseRepository(input.repository), input.digest, policyOf(input.policy), input.trustRoot, signal, input.maxAge);
    await this.records.record({ reference: input.reference, policy: input.policy, trustRoot: input.trustRoot, answer, jobId: job.id, caller: job.caller });
    return answer;
  }
}

/** The policy was read when the job was accepted; one that no longer reads (the rules changed since) fails the job. */
function policyOf(policy: Record<string, unknown>): ArtifactPolicy {
  try {
    return readPolicy(policy);
  } catch (error) {
    throw new VerificationError('INVALID_POLICY', (error as Error).message, { cause: error });
  }
}
