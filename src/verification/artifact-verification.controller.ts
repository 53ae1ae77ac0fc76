import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { Authorize, CurrentCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import type { FastifyReply } from 'fastify';
import { IDEMPOTENCY_KEY_SCHEMA, parseIdempotencyKey } from '../common/idempotency-key';
import { JobDto } from '../pipeline/job.dto';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiForbiddenResponse,
} from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
import { REGISTRY_REFUSAL_DESCRIPTION } from '../pipeline/registry-problem';
import { EXAMPLES } from '../openapi/examples';
import { ArtifactVerificationDto, VerifyArtifactDto } from './artifact-verification.dto';
import { ArtifactVerificationService } from './artifact-verification.service';
import { VerificationEventDto } from './verification-record.dto';

/** A verification answered at once records only its answer; one with `async: true` queues a job. */
const answersAtOnce = (body: unknown): boolean => (body as { async?: unknown } | null)?.async !== true;

@ApiTags('verifications')
// The body of the verification webhooks (documented with the webhooks, sent by this feature's records).
@ApiExtraModels(VerificationEventDto)
@Controller('v1/verifications')
export class ArtifactVerificationController {
  constructor(private readonly verifications: ArtifactVerificationService) {}

  @Authorize('verifications:write', { rateLimit: 'verifications', auditOnAnswer: answersAtOnce })
  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Verify an artifact in a registry against an identity policy',
    description:
      'Finds every signature of the artifact (cosign classic `.sig` layers and Sigstore bundle referrers) and verifies each with the trust root: certificate chain, SCT, Rekor SET or inclusion proof, timestamps, the signature, the binding to this digest, the identity policy (regular expressions use RE2 syntax, as in cosign, and match the whole value) and required annotations. With `policy.provenance`, the SLSA build provenance this service attaches to what it builds must verify too (signed by the builder it names, who must satisfy the identity policy; the codes PROVENANCE_… say what failed). Answers 200 with verified true or false.',
  })
  @ApiBody({
    type: VerifyArtifactDto,
    examples: {
      identity: {
        summary: 'The identity the local stack signs as',
        value: { reference: EXAMPLES.reference, policy: { certificateIdentity: EXAMPLES.certificateIdentity, certificateOidcIssuer: EXAMPLES.certificateOidcIssuer } },
      },
      regexp: {
        summary: 'Any service account of a namespace (a whole-string RE2 expression)',
        value: { reference: EXAMPLES.reference, policy: { certificateIdentityRegExp: EXAMPLES.certificateIdentityRegExp, certificateOidcIssuer: EXAMPLES.certificateOidcIssuer } },
      },
      wrongIdentity: {
        summary: 'Another identity: 200 with verified false and the reason',
        value: {
          reference: EXAMPLES.reference,
          policy: { certificateIdentity: 'https://kubernetes.io/namespaces/other/serviceaccounts/signer', certificateOidcIssuer: EXAMPLES.certificateOidcIssuer },
        },
      },
      provenance: {
        summary: 'Require build provenance: 200 with verified false and PROVENANCE_MISSING for a component that was uploaded, not built by the service',
        value: {
          reference: EXAMPLES.reference,
          policy: { certificateIdentity: EXAMPLES.certificateIdentity, certificateOidcIssuer: EXAMPLES.certificateOidcIssuer, provenance: { builder: 'componentize-js' } },
        },
      },
      async: {
        summary: 'Queued as a verify job, with a callback when it ends: 202',
        value: {
          reference: EXAMPLES.reference,
          policy: { certificateIdentity: EXAMPLES.certificateIdentity, certificateOidcIssuer: EXAMPLES.certificateOidcIssuer },
          async: true,
          callbackUrl: EXAMPLES.callbackUrl,
        },
      },
    },
  })
  @ApiOkResponse({ type: ArtifactVerificationDto })
  @ApiAcceptedResponse({ type: JobDto, description: 'With async: the verify job, whose result is the answer' })
  @ApiHeader({
    name: 'Idempotency-Key',
    schema: IDEMPOTENCY_KEY_SCHEMA,
    required: false,
    description: 'With async: replaying a key with the same body returns the job it created; another body under the same key is a 422',
  })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED, INVALID_REFERENCE, INVALID_POLICY, JSON_TOO_DEEP' })
  @ApiForbiddenResponse({ type: ProblemDto, description: REGISTRY_REFUSAL_DESCRIPTION })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'MANIFEST_NOT_FOUND' })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description:
      'INVALID_REGEXP (a pattern RE2 refuses, or over the size limits), TRUST_ROOT_NOT_FOUND; with async: IDEMPOTENCY_KEY_REUSED (the key was used for another request), CALLBACK_SECRET_MISSING (a callbackUrl without WEBHOOK_CALLBACK_SECRET), WEBHOOK_URL_FORBIDDEN; or the registry refused the request',
  })
  async verify(
    @Body() body: VerifyArtifactDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentCaller() caller: Caller,
  ): Promise<ArtifactVerificationDto | JobDto> {
    if (!body.async) return this.verifications.verify({ ...body, caller });
    const job = await this.verifications.submit({ ...body, idempotencyKey: parseIdempotencyKey(idempotencyKey), caller });
    void reply.status(202).header('location', `/v1/jobs/${job.id}`);
    return JobDto.from(job);
  }
}
