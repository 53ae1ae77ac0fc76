import { Injectable, OnModuleInit } from '@nestjs/common';
import type { CatalogueJob, SignedArtifactVerificationResult } from '../pipeline/job-catalogue';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { parseRepository } from '../registry/oci-reference';
import { ArtifactVerificationService } from './artifact-verification.service';
import { DEFAULT_TRUST_ROOT } from './trust-roots';
import { VerificationRecords } from './verification-records.repository';

/**
 * The verify step of publish, sign and build jobs: checks what the sign step wrote the way a consumer will,
 * through the registry (POST /v1/verifications), with the signer's own identity as the policy. Every
 * signature the sign step recorded (its result lists them) must be among those that verify.
 */
@Injectable()
export class SignedArtifactVerifyStep implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly verifications: ArtifactVerificationService,
    private readonly records: VerificationRecords,
  ) {}

  onModuleInit(): void {
    for (const jobType of ['publish', 'sign', 'build'] as const) {
      this.handlers.register({ jobType, step: 'verify', run: (job, context) => this.run(job, context.signal) });
    }
  }

  async run(job: CatalogueJob<'publish' | 'sign' | 'build'>, signal: AbortSignal): Promise<SignedArtifactVerificationResult> {
    const signed = signedArtifact(job);
    if (signed.signatures.length === 0) throw StepError.permanent('NO_SIGNATURES', 'the sign step recorded no signature');
    const { identity, issuer } = signed.signatures[0]!;
    const policy = {
      signer: { kind: 'certificate' as const, identity: { kind: 'exact' as const, value: identity }, issuer: { kind: 'exact' as const, value: issuer } },
      annotations: {},
    };
    const answer = await this.verifications.verifyDigest(parseRepository(signed.repository), signed.manifestDigest, policy, DEFAULT_TRUST_ROOT, signal);
    const record = () =>
      this.records.record({
        reference: signed.reference,
        policy: { certificateIdentity: identity, certificateOidcIssuer: issuer },
        trustRoot: DEFAULT_TRUST_ROOT,
        answer,
        jobId: job.id,
        caller: job.caller,
      });
    for (const signature of signed.signatures) {
      const found = answer.signatures.find((s) => s.format === signature.format && s.logIndex === signature.logIndex);
      // Not attached yet is retried, so not a verdict to record; a signature that does not verify is.
      if (!found) throw StepError.transient('SIGNATURE_NOT_ATTACHED', `the ${signature.format} signature (Rekor index ${signature.logIndex}) is not in the registry yet`);
      if (!found.verified) {
        await record();
        throw StepError.permanent('SIGNATURE_INVALID', `the ${signature.format} signature does not verify: ${found.error?.message ?? 'unknown reason'}`);
      }
    }
    await record();
    return {
      verification: {
        verified: answer.verified,
        policy: { certificateIdentity: identity, certificateOidcIssuer: issuer, trustRoot: DEFAULT_TRUST_ROOT },
        signatures: answer.signatures,
      },
    };
  }
}

/** What the job signed, from its recorded results: the push step's (publish, build) or the request (sign), and the sign step's. */
function signedArtifact(job: CatalogueJob<'publish' | 'sign' | 'build'>) {
  if (job.type === 'publish' || job.type === 'build') {
    const result = job.result;
    if (!result?.manifestDigest || !result.signatures || !result.repository) throw StepError.permanent('NOT_SIGNED', `job ${job.id} has no signed manifest to verify`);
    return {
      repository: result.repository,
      reference: result.tag ? `${result.repository}:${result.tag}` : `${result.repository}@${result.manifestDigest}`,
      manifestDigest: result.manifestDigest,
      signatures: result.signatures,
    };
  }
  const result = job.result;
  if (!result?.manifestDigest || !result.signatures) throw StepError.permanent('NOT_SIGNED', `job ${job.id} has no signed manifest to verify`);
  return { repository: job.input.repository, reference: job.input.reference, manifestDigest: result.manifestDigest, signatures: result.signatures };
}
