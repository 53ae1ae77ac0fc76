import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { Authorize, CurrentCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiForbiddenResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { IDEMPOTENCY_KEY_SCHEMA, parseIdempotencyKey } from '../common/idempotency-key';
import { ProblemDto } from '../common/problem.dto';
import { REGISTRY_REFUSAL_DESCRIPTION } from '../pipeline/registry-problem';
import { EXAMPLES } from '../openapi/examples';
import { JobDto } from '../pipeline/job.dto';
import { SignRequestDto } from './sign-request.dto';
import { SignRequestService } from './sign-request.service';

@ApiTags('signatures')
@Controller('v1/signatures')
export class SignaturesController {
  constructor(private readonly requests: SignRequestService) {}

  @Authorize('signatures:write', { rateLimit: 'signatures' })
  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Sign an artifact already in a registry',
    description:
      'A tag is resolved to its digest first; the job signs that digest (cosign classic `.sig` and Sigstore bundle referrer, per SIGNATURE_FORMATS) and verifies the result.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    schema: IDEMPOTENCY_KEY_SCHEMA,
    required: false,
    description: 'Replaying a key with the same body returns the job it created; another body under the same key is a 422',
  })
  @ApiBody({
    type: SignRequestDto,
    examples: {
      tag: { summary: 'Sign a tag (resolved to its digest first)', value: { reference: EXAMPLES.reference } },
      callback: { summary: 'Sign, and be called back when the job ends', value: { reference: EXAMPLES.reference, callbackUrl: EXAMPLES.callbackUrl } },
    },
  })
  @ApiAcceptedResponse({ type: JobDto, headers: { Location: { description: 'URL of the job', schema: { type: 'string' } } } })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED, INVALID_REFERENCE' })
  @ApiForbiddenResponse({ type: ProblemDto, description: REGISTRY_REFUSAL_DESCRIPTION })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'MANIFEST_NOT_FOUND, REPOSITORY_NOT_FOUND' })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description:
      'UNSUPPORTED_MEDIA_TYPE; IDEMPOTENCY_KEY_REUSED (the key was used for another request); CALLBACK_SECRET_MISSING (a callbackUrl without WEBHOOK_CALLBACK_SECRET); WEBHOOK_URL_FORBIDDEN; or the registry refused the request',
  })
  async sign(
    @Body() body: SignRequestDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentCaller() caller: Caller,
  ): Promise<JobDto> {
    const { job } = await this.requests.submit({ reference: body.reference, callbackUrl: body.callbackUrl, idempotencyKey: parseIdempotencyKey(idempotencyKey), caller });
    void reply.header('location', `/v1/jobs/${job.id}`);
    return JobDto.from(job);
  }
}
