import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ALWAYS_AUDIT_ON_ANSWER, Authorize } from '../access/authorize';
import { ApiBadRequestResponse, ApiBody, ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
import { BUNDLE_EXAMPLE } from '../openapi/examples';
import { BundleVerificationRequestDto, BundleVerificationResultDto } from './bundle-verification.dto';
import { BundleVerificationService } from './bundle-verification.service';

@ApiTags('verifications')
@Controller('v1/verifications')
export class BundleVerificationController {
  constructor(private readonly verifications: BundleVerificationService) {}

  @Authorize('verifications:write', { rateLimit: 'verifications', auditOnAnswer: ALWAYS_AUDIT_ON_ANSWER })
  @Post('bundle')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Verify a Sigstore bundle against an artifact, a policy and a trust root',
    description:
      'Answers 200 whether or not the bundle verifies: `verified` says which, `error.code` why not. ' +
      'The certificate chain, SCT, transparency-log inclusion and timestamps are checked at the time the log or the timestamp authority ' +
      'vouches for, never at the time of the request. With `artifactDigest` instead of `artifact`, a DSSE bundle must name the digest as an ' +
      'in-toto subject and a message signature is checked against the digest. Bundles v0.1 to v0.3.',
  })
  @ApiBody({
    type: BundleVerificationRequestDto,
    examples: {
      publicGood: {
        summary: 'A public-good bundle with its trusted root inline (works offline): verified true',
        value: {
          bundle: BUNDLE_EXAMPLE.bundle,
          artifactDigest: BUNDLE_EXAMPLE.artifactDigest,
          policy: { certificateIdentity: BUNDLE_EXAMPLE.certificateIdentity, certificateOidcIssuer: BUNDLE_EXAMPLE.certificateOidcIssuer },
          trustedRoot: BUNDLE_EXAMPLE.trustedRoot,
        },
      },
      wrongIssuer: {
        summary: 'The same bundle, another issuer: verified false with POLICY_ISSUER_MISMATCH',
        value: {
          bundle: BUNDLE_EXAMPLE.bundle,
          artifactDigest: BUNDLE_EXAMPLE.artifactDigest,
          policy: { certificateIdentity: BUNDLE_EXAMPLE.certificateIdentity, certificateOidcIssuer: 'https://accounts.google.com' },
          trustedRoot: BUNDLE_EXAMPLE.trustedRoot,
        },
      },
    },
  })
  @ApiOkResponse({ type: BundleVerificationResultDto })
  @ApiBadRequestResponse({
    type: ProblemDto,
    description: 'VALIDATION_FAILED, MALFORMED_JSON, ARTIFACT_REQUIRED, ARTIFACT_AMBIGUOUS, TRUST_ROOT_AMBIGUOUS, INVALID_POLICY, JSON_TOO_DEEP',
  })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description: 'TRUST_ROOT_NOT_FOUND: no configured trust root has that name; INVALID_REGEXP: a policy pattern RE2 refuses, or over the size limits',
  })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'TRUST_ROOT_UNAVAILABLE: the named trust root cannot be loaded (TUF unreachable, bad file)' })
  verify(@Body() body: BundleVerificationRequestDto): Promise<BundleVerificationResultDto> {
    return this.verifications.verify(body);
  }
}
