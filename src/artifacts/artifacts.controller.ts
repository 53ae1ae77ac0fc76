import type { Readable } from 'node:stream';
import { noteAuditTarget } from '../access/audit-target';
import { Authorize, CurrentCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import { Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConsumes,
  ApiHeader,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiQuery,
  ApiResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
  ApiForbiddenResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IDEMPOTENCY_KEY_SCHEMA, parseIdempotencyKey } from '../common/idempotency-key';
import { ProblemError } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { MAX_ANNOTATION_KEY_LENGTH, MAX_ANNOTATION_VALUE_LENGTH, MAX_ANNOTATIONS_JSON_LENGTH, MAX_REFERENCE_LENGTH, MAX_TAG_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { REGISTRY_REFUSAL_DESCRIPTION } from '../pipeline/registry-problem';
import { JobDto } from '../pipeline/job.dto';
import { ArtifactUploadService } from './artifact-upload.service';
import { unsupportedMediaType } from '../common/content-types';
import { type FormShape, readStreamedForm } from '../common/multipart-form';
import { EXAMPLES } from '../openapi/examples';
import { MAX_ANNOTATIONS, MAX_FORM_FIELDS, parseArtifactTargetFields } from '../pipeline/artifact-target-fields';

const UPLOAD_DESCRIPTION = `Publishes a .wasm (WebAssembly component or core module) to an OCI registry in the layout wkg and
wasmCloud read, then signs it keyless with Sigstore and verifies the signatures, as a queued job.

Two ways to send it:
- **raw body** \`Content-Type: application/wasm\` (curl \`--data-binary @file.wasm\`), the other fields as query parameters;
- **multipart/form-data** with the file in field \`file\` (Swagger UI's file picker), the other fields as form fields sent before it.

Annotations: \`annotation.<key>=<value>\` query parameters or form fields, or a form field \`annotations\` holding a JSON object.
The upload streams into the registry while it is checked; a file that is not valid WebAssembly, or larger than MAX_UPLOAD_BYTES, is refused and nothing is pushed.`;

const UPLOAD_FORM: FormShape = {
  fileField: 'file',
  fileDescription: 'the .wasm',
  fieldsBeforeFile: 'repository, tag, annotations, annotation.<key> and callbackUrl',
  maxFields: MAX_FORM_FIELDS,
  fieldsSummary: `repository, tag, annotations, callbackUrl and at most ${MAX_ANNOTATIONS} annotation.<key> fields`,
};

@ApiTags('artifacts')
@Controller('v1/artifacts')
export class ArtifactsController {
  constructor(private readonly uploads: ArtifactUploadService) {}

  @Authorize('artifacts:write', { rateLimit: 'uploads' })
  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Upload a .wasm: push it, sign it, verify it',
    description: UPLOAD_DESCRIPTION,
    requestBody: {
      required: true,
      content: {
        'application/wasm': { schema: { type: 'string', format: 'binary' } },
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['repository', 'file'],
            properties: {
              repository: { type: 'string', example: EXAMPLES.repository, description: 'host[:port]/path', maxLength: MAX_REFERENCE_LENGTH },
              tag: { type: 'string', example: EXAMPLES.tag, maxLength: MAX_TAG_LENGTH },
              annotations: {
                type: 'string',
                example: '{"org.opencontainers.image.source":"https://example.com/repo"}',
                description: `JSON object of strings: at most ${MAX_ANNOTATIONS} annotations, keys of at most ${MAX_ANNOTATION_KEY_LENGTH} characters, values of at most ${MAX_ANNOTATION_VALUE_LENGTH}; or annotation.<key> fields`,
                maxLength: MAX_ANNOTATIONS_JSON_LENGTH,
              },
              callbackUrl: {
                type: 'string',
                format: 'uri',
                description: 'Notified when the job finishes (needs WEBHOOK_CALLBACK_SECRET)',
                example: EXAMPLES.callbackUrl,
                maxLength: MAX_URL_LENGTH,
              },
              file: { type: 'string', format: 'binary', description: 'The .wasm file' },
            },
          },
        },
      },
    },
  })
  @ApiConsumes('application/wasm', 'multipart/form-data')
  @ApiQuery({
    name: 'repository',
    required: false,
    description: 'host[:port]/path (raw-body uploads)',
    // With a schema, the example belongs in it (@nestjs/swagger drops a parameter-level one).
    schema: { type: 'string', maxLength: MAX_REFERENCE_LENGTH, example: EXAMPLES.repository },
  })
  @ApiQuery({
    name: 'tag',
    required: false,
    description: 'Tag to set on the pushed manifest (raw-body uploads)',
    schema: { type: 'string', maxLength: MAX_TAG_LENGTH, example: EXAMPLES.tag },
  })
  @ApiQuery({
    name: 'callbackUrl',
    required: false,
    schema: { type: 'string', format: 'uri', maxLength: MAX_URL_LENGTH, example: EXAMPLES.callbackUrl },
    description: 'Notified when the job finishes (raw-body uploads; needs WEBHOOK_CALLBACK_SECRET)',
  })
  @ApiHeader({ name: 'Idempotency-Key', schema: IDEMPOTENCY_KEY_SCHEMA, required: false, description: 'Replaying a key returns the job it created, without uploading again' })
  @ApiAcceptedResponse({
    type: JobDto,
    description: 'The publish job; `Location` is its URL',
    headers: { Location: { description: 'URL of the job', schema: { type: 'string' } } },
  })
  @ApiBadRequestResponse({
    type: ProblemDto,
    description:
      'VALIDATION_FAILED, INVALID_REFERENCE, FORM_FIELD_ORDER (file before repository), MALFORMED_MULTIPART (a body that is not the multipart form its Content-Type announces), UPLOAD_ABORTED',
  })
  @ApiResponse({ status: 408, type: ProblemDto, description: 'REQUEST_TIMEOUT: the body stopped arriving (HTTP_BODY_IDLE_TIMEOUT_MS) or took too long (HTTP_REQUEST_TIMEOUT_MS)' })
  @ApiForbiddenResponse({ type: ProblemDto, description: REGISTRY_REFUSAL_DESCRIPTION })
  @ApiPayloadTooLargeResponse({ type: ProblemDto, description: 'PAYLOAD_TOO_LARGE, TOO_MANY_FIELDS, TOO_MANY_FILES' })
  @ApiUnsupportedMediaTypeResponse({ type: ProblemDto, description: 'UNSUPPORTED_MEDIA_TYPE: send application/wasm, or multipart/form-data with field "file"' })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description:
      'WASM_BAD_MAGIC, WASM_UNSUPPORTED_VERSION, WASM_TRUNCATED, WASM_MALFORMED_SECTION; RESERVED_TAG (a tag derived from a digest: <alg>-<hex>[.<suffix>]); IDEMPOTENCY_KEY_REUSED (the key was used for another request); CALLBACK_SECRET_MISSING (a callbackUrl without WEBHOOK_CALLBACK_SECRET); WEBHOOK_URL_FORBIDDEN; or the registry refused the upload (REGISTRY_UNAUTHORIZED, REGISTRY_FORBIDDEN, REGISTRY_REJECTED)',
  })
  @ApiResponse({ status: 502, type: ProblemDto, description: 'The registry failed: REGISTRY_TLS_ERROR, REGISTRY_DNS_FAILURE, REGISTRY_PROTOCOL_ERROR' })
  @ApiResponse({
    status: 503,
    type: ProblemDto,
    description: 'The registry is unavailable: REGISTRY_UNREACHABLE, REGISTRY_UNAVAILABLE, REGISTRY_THROTTLED; or QUEUE_UNAVAILABLE, SHUTTING_DOWN',
  })
  @ApiResponse({ status: 504, type: ProblemDto, description: 'The registry did not answer within REGISTRY_TIMEOUT_MS: REGISTRY_TIMEOUT' })
  async upload(
    @Req() request: FastifyRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentCaller() caller: Caller,
  ): Promise<JobDto> {
    const key = parseIdempotencyKey(idempotencyKey);
    const { job } = request.isMultipart() ? await this.fromMultipart(request, key, caller) : await this.fromRawBody(request, key, caller);
    void reply.header('location', `/v1/jobs/${job.id}`);
    return JobDto.from(job);
  }

  private async fromRawBody(request: FastifyRequest, idempotencyKey: string | undefined, caller: Caller) {
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/wasm') {
      throw unsupportedMediaType(request);
    }
    const fields = parseArtifactTargetFields(request.query as Record<string, unknown>);
    const length = request.headers['content-length'];
    return this.uploads.upload({ ...fields, caller, idempotencyKey, declaredLength: length === undefined ? undefined : Number(length) }, request.body as Readable);
  }

  private fromMultipart(request: FastifyRequest, idempotencyKey: string | undefined, caller: Caller) {
    // The file streams straight into the registry, so the fields that say where to must come first.
    return readStreamedForm(request, UPLOAD_FORM, ['repository'], async (raw, file, afterFile) => {
      // The audit log's entry was written before the form was read: it learns the repository here.
      if (typeof raw.repository === 'string') noteAuditTarget(request, { repository: raw.repository });
      const fields = parseArtifactTargetFields(raw);
      const result = await this.uploads.upload({ ...fields, caller, idempotencyKey, fileName: file.filename, afterBody: afterFile }, file.file);
      if (file.file.truncated) throw new ProblemError(413, 'PAYLOAD_TOO_LARGE', 'The upload is too large', 'the .wasm exceeds MAX_UPLOAD_BYTES');
      return result;
    });
  }
}
