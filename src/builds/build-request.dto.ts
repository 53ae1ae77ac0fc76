import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_ANNOTATION_VALUE_LENGTH, MAX_ANNOTATIONS, MAX_REFERENCE_LENGTH, MAX_TAG_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';

export class BuildGitSourceDto {
  @ApiProperty({
    description: 'HTTPS (or HTTP) URL of the repository; its host must be in BUILD_GIT_ALLOWED_HOSTS',
    example: 'https://git.example.com/team/hello.git',
    maxLength: MAX_URL_LENGTH,
  })
  url!: string;

  @ApiProperty({
    description: 'The full commit id (40 hex digits, or 64 for SHA-256 repositories); a branch, tag or short id is refused',
    example: '0123456789abcdef0123456789abcdef01234567',
    maxLength: 64,
  })
  commit!: string;
}

/** POST /v1/builds as JSON: a build from a git commit. (Archives come as the body, or as a form's file.) */
export class BuildRequestDto {
  @ApiProperty({ description: 'Where the component goes: host[:port]/path', example: EXAMPLES.repository, maxLength: MAX_REFERENCE_LENGTH })
  repository!: string;

  @ApiPropertyOptional({ example: EXAMPLES.tag, maxLength: MAX_TAG_LENGTH })
  tag?: string;

  @ApiProperty({ enum: ['componentize-js', 'cargo'], description: 'GET /v1/builders lists the builders and whether a build worker can run them', maxLength: 32 })
  builder!: string;

  @ApiPropertyOptional({
    type: Object,
    additionalProperties: true,
    description:
      "The builder's options. componentize-js: `entry` (the JS module, default `index.js`), `wit` (WIT file or directory, default `wit`), `world`, `disableFeatures`. cargo: `package`, `bin`, `features`, `adapter` (`command` or `reactor`, for toolchains without wasm32-wasip2).",
    example: { entry: 'index.js', wit: 'wit', world: 'hello' },
  })
  options?: Record<string, unknown>;

  @ApiProperty({ type: BuildGitSourceDto })
  git!: BuildGitSourceDto;

  @ApiPropertyOptional({
    type: Object,
    additionalProperties: { type: 'string', maxLength: MAX_ANNOTATION_VALUE_LENGTH },
    maxProperties: MAX_ANNOTATIONS,
    description: 'Manifest annotations',
    example: { 'org.opencontainers.image.source': 'https://git.example.com/team/hello' },
  })
  annotations?: Record<string, string>;

  @ApiPropertyOptional({ format: 'uri', description: 'Notified when the job finishes (needs WEBHOOK_CALLBACK_SECRET)', example: EXAMPLES.callbackUrl, maxLength: MAX_URL_LENGTH })
  callbackUrl?: string;
}
