import { Injectable, OnModuleInit } from '@nestjs/common';
import type { CatalogueJob, SignResult, SignedArtifactVerificationResult } from '../pipeline/job-catalogue';
import { StepError } from '../pipeline/step-error';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { ArtifactVerificationService } from '../verification/artifact-verification.service';
import { DEFAULT_TRUST_ROOT } from '../verification/trust-roots';
import { VerificationRecords } from '../verification/verification-records.repository';
import { ArtifactSigner } from './artifact-signer';
import { SignatureRecords } from './signature-records.repository';
import { signatureSummary } from './signature-summary';
import { signingTarget } from './signing-targets';

/**
 * The sign and verify steps of publish and sign jobs.
 *
 * The verify step checks what the sign step wrote the way a consumer will: through the registry.
 */
@Injectable()
export class SignSteps implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly signer: ArtifactSigner,
    private readonly records: SignatureRecords,
    private readonly verifications: ArtifactVerificationService,
    private readonly verificationRecords: VerificationRecords,
  ) {}

  onModuleInit(): void {
    for (const jobType of ['publish', 'sign'] as const) {
      this.handlers.register({ jobType, step: 'sign', run: (job, context) => this.sign(job, context.signal) });
      this.handlers.register({ jobType, step: 'verify', run: (job, context) => this.verify(job, context.signal) });
    }
  }

  /**
   * The result names what was signed, by digest (`reference`, `manifestDigest`), and the signature
   * records made (`signatures[].id`, as GET /v1/signatures/{id} shows them).
   */
  async sign(job: CatalogueJob<'publish' | 'sign'>, signal: AbortSignal): Promise<SignResult> {
    const target = signingTarget(job);
    const rows = await this.signer.sign(target, signal);
    return {
      reference: `${target.repository.registry}/${target.repository.repository}@${target.manifestDigest}`,
      manifestDigest: target.manifestDigest,
      signatures: rows.map(signatureSummary),
    };
  }

  /**
   * Verifies the artifact as any caller would (POST /v1/verifications): its signatures found live in
   * the registry, against the trust root, with the signer's own identity as the policy. Every signature
   * this job made must be among those that verify.
   */
  async verify(job: CatalogueJob<'publish' | 'sign'>, signal: AbortSignal): Promise<SignedArtifactVerificationResult> {
    const target = signingTarget(job);
    const rows = await this.records.findForJob(job.id);
    if (rows.length === 0) throw StepError.permanent('NO_SIGNATURES', 'the sign step recorded no signature');
    const { identity, issuer } = rows[0]!;
    const policy = { signer: { kind: 'certificate' as const, identity: { kind: 'exact' as const, value: identity }, issuer: { kind: 'exact' as const, value: issuer } }, annotations: {} };
    const answer = await this.verifications.verifyDigest(target.repository, target.manifestDigest, policy, DEFAULT_TRUST_ROOT, signal);
    const record = () =>
      this.verificationRecords.record({
        reference: target.reference,
        policy: { certificateIdentity: identity, certificateOidcIssuer: issuer },
        trustRoot: DEFAULT_TRUST_ROOT,
        answer,
        jobId: job.id,
        caller: job.caller,
      });
    for (const row of rows) {
      const found = answer.signatures.find((s) => s.format === row.format && s.logIndex === row.rekor_log_index);
      // Not attached yet is retried, so not a verdict to record; a signature that does not verify is.
      if (!found) throw StepError.transient('SIGNATURE_NOT_ATTACHED', `the ${row.format} signature (Rekor index ${row.rekor_log_index}) is not in the registry yet`);
      if (!found.verified) {
        await record();
        throw StepError.permanent('SIGNATURE_INVALID', `the ${row.format} signature does not verify: ${found.error?.message ?? 'unknown reason'}`);
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
