import { Module } from '@nestjs/common';
import { AdmissionController } from './admission.controller';
import { AdmissionService } from './admission.service';
import { ArtifactVerificationController } from './artifact-verification.controller';
import { BundleVerificationController } from './bundle-verification.controller';
import { BundleVerificationService } from './bundle-verification.service';
import { SignedArtifactVerifyStep } from './signed-artifact-verify-step';
import { VerifyStep } from './verify-step';

/** `POST /v1/verifications`, `POST /v1/verifications/bundle` and `POST /v1/admission` (api role); trust roots come from the global TrustModule. */
@Module({ controllers: [ArtifactVerificationController, BundleVerificationController, AdmissionController], providers: [BundleVerificationService, AdmissionService] })
export class VerificationApiModule {}

/** The verify steps (worker role): of standalone verify jobs, and of publish and sign jobs. */
@Module({ providers: [VerifyStep, SignedArtifactVerifyStep] })
export class VerificationWorkerModule {}
