import { Module } from '@nestjs/common';
import { ArtifactVerificationController } from './artifact-verification.controller';
import { ArtifactVerificationService } from './artifact-verification.service';
import { BundleVerificationController } from './bundle-verification.controller';
import { BundleVerificationService } from './bundle-verification.service';

/** `POST /v1/verifications` and `POST /v1/verifications/bundle` (api role); trust roots come from the global TrustModule. */
@Module({ controllers: [ArtifactVerificationController, BundleVerificationController], providers: [ArtifactVerificationService, BundleVerificationService] })
export class VerificationApiModule {}
