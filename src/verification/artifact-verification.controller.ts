import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
import { ArtifactVerificationDto, VerifyArtifactDto } from './artifact-verification.dto';
import { ArtifactVerificationService } from './artifact-verification.service';

@ApiTags('verifications')
@Controller('v1/verifications')
export class ArtifactVerificationController {
  constructor(private readonly verifications: ArtifactVerificationService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Verify an artifact in a registry against an identity policy',
    description:
      'Finds every signature of the artifact (cosign classic `.sig` layers and Sigstore bundle referrers) and verifies each with the trust root: certificate chain, SCT, Rekor SET or inclusion proof, timestamps, the signature, the binding to this digest, the identity policy (regular expressions are anchored) and required annotations. Answers 200 with verified true or false.',
  })
  @ApiOkResponse({ type: ArtifactVerificationDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED, INVALID_REFERENCE, INVALID_POLICY, INVALID_REGEXP' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'MANIFEST_NOT_FOUND' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'TRUST_ROOT_NOT_FOUND, or the registry refused the request' })
  verify(@Body() body: VerifyArtifactDto): Promise<ArtifactVerificationDto> {
    return this.verifications.verify(body);
  }
}
