import { Module } from '@nestjs/common';
import { ArtifactVerificationController } from './artifact-verification.controller';
import { BundleVerificationController } from './bundle-verification.controller';
import { BundleVerificationService } from './bundle-verification.service';
import { VerifyStep } from './verify-step';

/** `POST /v1/verifications` and `POST /v1/verifications/bundle` (api role); trust roots come from the global TrustModule. */
@Module({ controllers: [ArtifactVerificationController, BundleVerificationController], providers: [BundleVerificationService] })
export class VerificationApiModule {}

/** The step of standalone verify jobs (worker role). */
@Module({ providers: [VerifyStep] })
export class VerificationWorkerModule {}
