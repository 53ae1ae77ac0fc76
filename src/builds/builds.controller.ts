import type { Readable } from 'node:stream';
import { Controller, Get, Headers, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConsumes,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiQuery,
  ApiResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noteAuditTarget } from '../access/audit-target';
import { Authorize, CurrentCaller } from '../access/authorize';
import { type Caller, callerOwns } from '../access/caller';
import { BUILD_CONTENT_TYPES, SOURCE_ARCHIVE_MEDIA_TYPES, unsupportedMediaType } from '../common/content-types';
import { MAX_ANNOTATIONS, MAX_REFERENCE_LENGTH, MAX_TAG_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { IDEMPOTENCY_KEY_SCHEMA, parseIdempotencyKey } from '../common/idempotency-key';
import { type FormShape, readStreamedForm } from '../common/multipart-form';
import { ProblemError, problems } from '../common/problem';
import { ProblemDto } from '../common/problem.dto';
import { EXAMPLES } from '../openapi/examples';
import { ApiUuidParam } from '../openapi/path-params';
import { MAX_FORM_FIELDS, parseArtifactTargetFields } from '../pipeline/artifact-target-fields';
import { JobDto } from '../pipeline/job.dto';
import { REGISTRY_REFUSAL_DESCRIPTION } from '../pipeline/registry-problem';
import { ARCHIVE_REFUSAL_CODES } from './build-problems';
import { BuildRecordDto, BuilderDto } from './build-record.dto';
import { BuildRecordsRepository } from './build-records.repository';
import { BuildRequestDto } from './build-request.dto';
import { type BuildRequestFields, BuildRequestService } from './build-request.service';
import { BuilderAvailabilityReports } from './builder-availability';

/** The fields a build request has besides where the component goes. */
const BUILD_FIELDS = ['builder', 'options'];
const JSON_FIELDS = new Set(['repository', 'tag', 'annotations', 'callbackUrl', 'builder', 'options', 'git']);
const MAX_OPTIONS_JSON_LENGTH = 8 * 1024;

const BUILD_FORM: FormShape = {
  fileField: 'source',
  fileDescription: 'the source archive',
  fieldsBeforeFile: 'repository, builder, options, tag, annotations, annotation.<key> and callbackUrl',
  maxFields: MAX_FORM_FIELDS,
  fieldsSummary: `repository, builder, options, tag, annotations, callbackUrl and at most ${MAX_ANNOTATIONS} annotation.<key> fields`,
};

const BUILD_DESCRIPTION = `Builds a WebAssembly component from source in a sandbox (bubblewrap: no network, the toolchain read-only,
a fresh work directory, limits on time, CPU, memory, processes and output), then pushes it, signs it keyless, attaches
signed SLSA build provenance (an OCI referrer, as cosign attaches attestations) and verifies both, as a queued job:
build → push → sign → attest → verify.

The source, three ways:
- **JSON** \`{"git": {"url", "commit"}, …}\`: a full commit of a repository on a host in BUILD_GIT_ALLOWED_HOSTS;
- **raw body** \`Content-Type: application/gzip\` or \`application/zip\` (curl \`--data-binary @src.tar.gz\`), the other fields as
  query parameters (\`options\` as JSON text);
- **multipart/form-data** with the archive in field \`source\` (Swagger UI's file picker), the other fields before it.

An archive is checked before the job is accepted: paths that leave the tree, absolute paths, links out of the tree,
device files, too many entries, too many bytes or a compression ratio over the limit are refused (422 or 413) with the
entry named. Builders: \`componentize-js\` (a JavaScript module and a WIT world) and \`cargo\` (a Rust crate, built
\`--offline\`: vendor its dependencies). Follow the build log at GET /v1/jobs/{id}/logs.`;

@ApiTags('builds')
@Controller('v1')
@ApiExtraModels(BuildRequestDto)
export class BuildsController {
  constructor(
    private readonly requests: BuildRequestService,
    private readonly records: BuildRecordsRepository,
    private readonly builders: BuilderAvailabilityReports,
  ) {}

  @Authorize('builds:write', { rateLimit: 'builds' })
  @Post('builds')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Build a component from source: build, push, sign, attest provenance, verify',
    description: BUILD_DESCRIPTION,
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: { $ref: getSchemaPath(BuildRequestDto) },
          examples: {
            git: {
              summary: 'Build a Rust crate from a git commit (git.example.com is not in BUILD_GIT_ALLOWED_HOSTS of npm run dev): 403',
              value: {
                repository: EXAMPLES.repository,
                tag: EXAMPLES.tag,
                builder: 'cargo',
                git: { url: 'https://git.example.com/team/hello.git', commit: '0123456789abcdef0123456789abcdef01234567' },
              },
            },
          },
        },
        'application/gzip': { schema: { type: 'string', format: 'binary' } },
        'application/zip': { schema: { type: 'string', format: 'binary' } },
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['repository', 'builder', 'source'],
            properties: {
              repository: { type: 'string', example: EXAMPLES.repository, maxLength: MAX_REFERENCE_LENGTH },
              builder: { type: 'string', enum: ['componentize-js', 'cargo'] },
              options: { type: 'string', description: 'The builder options as a JSON object', example: '{"entry":"index.js","wit":"wit"}', maxLength: MAX_OPTIONS_JSON_LENGTH },
              tag: { type: 'string', example: EXAMPLES.tag, maxLength: MAX_TAG_LENGTH },
              annotations: { type: 'string', description: 'JSON object of strings', maxLength: 64 * 1024 },
              callbackUrl: { type: 'string', format: 'uri', example: EXAMPLES.callbackUrl, maxLength: MAX_URL_LENGTH },
              source: { type: 'string', format: 'binary', description: 'The source archive (.tar.gz or .zip)' },
            },
          },
        },
      },
    },
  })
  @ApiConsumes('application/json', 'application/gzip', 'application/zip', 'multipart/form-data')
  @ApiQuery({
    name: 'repository',
    required: false,
    description: 'host[:port]/path (raw-body archives)',
    schema: { type: 'string', maxLength: MAX_REFERENCE_LENGTH, example: EXAMPLES.repository },
  })
  @ApiQuery({ name: 'builder', required: false, description: 'componentize-js or cargo (raw-body archives)', schema: { type: 'string', enum: ['componentize-js', 'cargo'] } })
  @ApiQuery({
    name: 'options',
    required: false,
    description: 'The builder options as JSON text (raw-body archives)',
    schema: { type: 'string', maxLength: MAX_OPTIONS_JSON_LENGTH },
  })
  @ApiQuery({ name: 'tag', required: false, description: 'Tag to set (raw-body archives)', schema: { type: 'string', maxLength: MAX_TAG_LENGTH, example: EXAMPLES.tag } })
  @ApiQuery({
    name: 'callbackUrl',
    required: false,
    description: 'Notified when the job finishes (raw-body archives)',
    schema: { type: 'string', format: 'uri', maxLength: MAX_URL_LENGTH },
  })
  @ApiHeader({ name: 'Idempotency-Key', schema: IDEMPOTENCY_KEY_SCHEMA, required: false, description: 'Replaying a key with the same request returns the job it created' })
  @ApiAcceptedResponse({ type: JobDto, description: 'The build job; `Location` is its URL', headers: { Location: { description: 'URL of the job', schema: { type: 'string' } } } })
  @ApiBadRequestResponse({
    type: ProblemDto,
    description: 'VALIDATION_FAILED, INVALID_REFERENCE, INVALID_BUILDER_OPTIONS, GIT_URL_INVALID, GIT_COMMIT_NOT_FULL, FORM_FIELD_ORDER, MALFORMED_MULTIPART, UPLOAD_ABORTED',
  })
  @ApiForbiddenResponse({ type: ProblemDto, description: `GIT_SOURCES_DISABLED, GIT_HOST_NOT_ALLOWED; ${REGISTRY_REFUSAL_DESCRIPTION}` })
  @ApiPayloadTooLargeResponse({
    type: ProblemDto,
    description: 'PAYLOAD_TOO_LARGE (BUILD_SOURCE_MAX_BYTES), ARCHIVE_TOO_LARGE, ARCHIVE_TOO_MANY_FILES, ARCHIVE_COMPRESSION_RATIO, TOO_MANY_FIELDS',
  })
  @ApiUnsupportedMediaTypeResponse({ type: ProblemDto, description: `UNSUPPORTED_MEDIA_TYPE: send ${BUILD_CONTENT_TYPES}` })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description: `The source archive was refused, naming the entry: ${ARCHIVE_REFUSAL_CODES}; RESERVED_TAG; IDEMPOTENCY_KEY_REUSED; CALLBACK_SECRET_MISSING; WEBHOOK_URL_FORBIDDEN; or the registry refused access`,
  })
  @ApiResponse({
    status: 503,
    type: ProblemDto,
    description: 'BUILDER_UNAVAILABLE (no build worker can run the builder: see GET /v1/builders), QUEUE_UNAVAILABLE, SHUTTING_DOWN, or the registry is unavailable',
  })
  async build(
    @Req() request: FastifyRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentCaller() caller: Caller,
  ): Promise<JobDto> {
    const key = parseIdempotencyKey(idempotencyKey);
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let submitted;
    if (request.isMultipart()) submitted = await this.fromMultipart(request, key, caller);
    else if (SOURCE_ARCHIVE_MEDIA_TYPES.includes(type)) submitted = await this.fromRawBody(request, key, caller);
    else if (type === 'application/json') submitted = await this.requests.fromGit({ ...jsonFields(request.body), idempotencyKey: key, caller });
    else throw unsupportedMediaType(request);
    void reply.header('location', `/v1/jobs/${submitted.job.id}`);
    return JobDto.from(submitted.job);
  }

  private fromRawBody(request: FastifyRequest, idempotencyKey: string | undefined, caller: Caller) {
    const query = request.query as Record<string, unknown>;
    const fields = buildFields(query);
    const length = request.headers['content-length'];
    return this.requests.fromArchive({ ...fields, caller, idempotencyKey, declaredLength: length === undefined ? undefined : Number(length) }, request.body as Readable);
  }

  private fromMultipart(request: FastifyRequest, idempotencyKey: string | undefined, caller: Caller) {
    return readStreamedForm(request, BUILD_FORM, ['repository', 'builder'], (raw, file, afterFile) => {
      if (typeof raw.repository === 'string') noteAuditTarget(request, { repository: raw.repository });
      const afterBody = async () => {
        // The form parser stops a file at MAX_UPLOAD_BYTES: a cut archive is refused, not built.
        if (file.file.truncated) throw new ProblemError(413, 'PAYLOAD_TOO_LARGE', 'The source archive is too large', 'the source archive exceeds MAX_UPLOAD_BYTES');
        await afterFile();
      };
      return this.requests.fromArchive({ ...buildFields(raw), caller, idempotencyKey, fileName: file.filename, afterBody }, file.file);
    });
  }

  @Authorize('authenticated')
  @Get('builds/:id')
  @ApiOperation({
    summary: 'A build as recorded: builder, options, source digest, toolchain, log digest, provenance',
    description: 'The record of a build job (its id is the job id): what was asked, how it ran, and the signed provenance with its Rekor log index. Callers see their own builds.',
  })
  @ApiUuidParam()
  @ApiOkResponse({ type: BuildRecordDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'BUILD_NOT_FOUND' })
  async record(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<BuildRecordDto> {
    const row = await this.records.find(id);
    if (!row || !callerOwns(caller, row.caller)) throw problems.notFound('Build', id);
    return BuildRecordDto.from(row, await this.records.attestations(id));
  }

  @Authorize('authenticated')
  @Get('builders')
  @ApiOperation({
    summary: 'The builders, their toolchain versions, and whether a build worker can run them',
    description:
      'What the build workers (BUILD_WORKER=also or only) reported in the last 45 s: each builder is available when at least one worker can run it; otherwise `reason` says why.',
  })
  @ApiOkResponse({ type: [BuilderDto] })
  @ApiResponse({ status: 503, type: ProblemDto, description: 'QUEUE_UNAVAILABLE: the build workers’ reports (in Redis) cannot be read' })
  async list(): Promise<BuilderDto[]> {
    const statuses = await this.builders.statuses().catch((error: unknown) => {
      throw new ProblemError(503, 'QUEUE_UNAVAILABLE', 'Redis is unavailable', `the build workers' reports cannot be read: ${(error as Error).message}`);
    });
    return statuses.map((s) => ({ ...s, toolchain: s.toolchain.map((t) => ({ ...t, digest: t.digest ?? null })) }));
  }
}

/** The fields of an archive build (query parameters or form fields). */
function buildFields(raw: Record<string, unknown>): Omit<BuildRequestFields, 'caller' | 'idempotencyKey'> {
  const target = parseArtifactTargetFields(raw, BUILD_FIELDS);
  const builder = typeof raw.builder === 'string' ? raw.builder : undefined;
  if (!builder)
    throw new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', 'builder: is required (componentize-js or cargo)', {
      errors: [{ field: 'builder', message: 'is required' }],
    });
  let options: Record<string, unknown> = {};
  if (raw.options !== undefined && raw.options !== '') {
    const invalid = new ProblemError(
      400,
      'INVALID_BUILDER_OPTIONS',
      'The builder options are not valid',
      `options: must be a JSON object of at most ${MAX_OPTIONS_JSON_LENGTH} characters`,
    );
    if (typeof raw.options !== 'string' || raw.options.length > MAX_OPTIONS_JSON_LENGTH) throw invalid;
    try {
      options = JSON.parse(raw.options) as Record<string, unknown>;
    } catch {
      throw invalid;
    }
    if (!options || typeof options !== 'object' || Array.isArray(options)) throw invalid;
  }
  return { ...target, builder, options };
}

/** The fields of a JSON build request (a git source). */
function jsonFields(body: unknown): Omit<BuildRequestFields, 'caller' | 'idempotencyKey'> & { git: { url: string; commit: string } } {
  const invalid = (field: string, message: string) =>
    new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', `${field}: ${message}`, { errors: [{ field, message }] });
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('body', 'must be a JSON object');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !JSON_FIELDS.has(key));
  if (unknown !== undefined) throw invalid(unknown.slice(0, 64), 'is not a known field');
  const { annotations, options, git, builder, ...rest } = record;
  if (annotations !== undefined && (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)))
    throw invalid('annotations', 'must be an object of strings');
  const target = parseArtifactTargetFields({ ...rest, ...(annotations === undefined ? {} : { annotations: JSON.stringify(annotations) }) });
  if (typeof builder !== 'string') throw invalid('builder', 'is required (componentize-js or cargo)');
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ProblemError(400, 'INVALID_BUILDER_OPTIONS', 'The builder options are not valid', 'options: must be a JSON object');
  }
  if (!git || typeof git !== 'object' || Array.isArray(git)) {
    throw invalid('git', 'is required in a JSON request: {"url", "commit"} (send an archive as application/gzip, application/zip or a form instead)');
  }
  const { url, commit } = git as Record<string, unknown>;
  if (typeof url !== 'string' || url.length > MAX_URL_LENGTH) throw invalid('git.url', `must be a URL of at most ${MAX_URL_LENGTH} characters`);
  if (typeof commit !== 'string' || commit.length > 64) throw invalid('git.commit', 'must be a full commit id (40 or 64 hex digits)');
  return { ...target, builder, options: (options as Record<string, unknown> | undefined) ?? {}, git: { url, commit } };
}
