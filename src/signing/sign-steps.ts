import { Injectable, OnModuleInit } from '@nestjs/common';
import type { CatalogueJob, SignResult } from '../pipeline/job-catalogue';
import { StepHandlerRegistry } from '../pipeline/step-handler.registry';
import { ArtifactSigner } from './artifact-signer';
import { signatureSummary } from './signature-summary';
import { signingTarget } from './signing-targets';

/** The sign step of publish, sign and build jobs (their verify step is the verification feature's: SignedArtifactVerifyStep). */
@Injectable()
export class SignSteps implements OnModuleInit {
  constructor(
    private readonly handlers: StepHandlerRegistry,
    private readonly signer: ArtifactSigner,
  ) {}

  onModuleInit(): void {
    for (const jobType of ['publish', 'sign', 'build'] as const) {
      this.handlers.register({ jobType, step: 'sign', run: (job, context) => this.sign(job, context.signal) });
    }
  }

  /**
   * The result names what was signed, by digest (`reference`, `manifestDigest`), and the signature
   * records made (`signatures[].id`, as GET /v1/signatures/{id} shows them).
   */
  async sign(job: CatalogueJob<'publish' | 'sign' | 'build'>, signal: AbortSignal): Promise<SignResult> {
    const target = signingTarget(job);
    const rows = await this.signer.sign(target, signal);
    return {
      reference: `${target.repository.registry}/${target.repository.repository}@${target.manifestDigest}`,
      manifestDigest: target.manifestDigest,
      signatures: rows.map(signatureSummary),
    };
  }
}
