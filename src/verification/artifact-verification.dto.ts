import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import type { SignatureFormat } from '../database/database.types';
import { IsBoolean, IsInt, IsObject, IsOptional, IsString, IsUrl, Max, MaxLength, Min } from 'class-validator';
import { MAX_REGEXP_LENGTH } from '../common/caller-regexp';
import {
  MAX_ANNOTATION_KEY_LENGTH,
  MAX_ANNOTATION_VALUE_LENGTH,
  MAX_ANNOTATIONS,
  MAX_DIGEST_LENGTH,
  MAX_POLICY_FIELD_LENGTH,
  MAX_REFERENCE_LENGTH,
  MAX_TRUST_ROOT_NAME_LENGTH,
  MAX_URL_LENGTH,
} from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';
import { type ProvenanceSource, SLSA_PROVENANCE_PREDICATE_TYPE, WASM_COMPONENT_BUILD_TYPE } from '../signature-formats/slsa-provenance';
import { PROVENANCE_ERROR_CODES, type ProvenanceErrorCode } from './provenance-verification';

/** Documentation of what a policy requires of the build provenance; read by buildProvenancePolicy. */
export class ProvenancePolicyDto {
  @ApiPropertyOptional({
    description:
      'The builder id (`runDetails.builder.id`) exactly. Whatever this says, the builder id must be the identity of the certificate that signed the attestation, which must satisfy the signer policy',
    example: EXAMPLES.certificateIdentity,
    maxLength: MAX_POLICY_FIELD_LENGTH,
  })
  builderId?: string;
  @ApiPropertyOptional({ description: 'Regular expression the whole builder id must match (RE2, anchored); not with builderId', maxLength: MAX_REGEXP_LENGTH })
  builderIdRegExp?: string;
  @ApiPropertyOptional({
    description: 'The component must have been built from the source archive of this digest',
    pattern: '^sha256:[0-9a-fA-F]{64}$',
    maxLength: MAX_DIGEST_LENGTH,
  })
  sourceDigest?: string;
  @ApiPropertyOptional({
    description: 'The component must have been built from this git repository (compared without a `git+` prefix, `.git` suffix or trailing slash)',
    example: 'https://git.example/org/repo',
    maxLength: MAX_POLICY_FIELD_LENGTH,
  })
  sourceRepository?: string;
  @ApiPropertyOptional({ description: 'The builder that must have built it (`GET /v1/builders`)', example: 'cargo', maxLength: MAX_POLICY_FIELD_LENGTH })
  builder?: string;
}

/** Documentation of the artifact verification policy: the signer, and the annotations the signed payload must carry; read by readPolicy. */
export class ArtifactVerificationPolicyDto {
  @ApiPropertyOptional({ description: 'Exact certificate identity (SAN)', example: EXAMPLES.certificateIdentity, maxLength: MAX_POLICY_FIELD_LENGTH })
  certificateIdentity?: string;
  @ApiPropertyOptional({ description: 'Regular expression the whole identity must match (anchored)', example: EXAMPLES.certificateIdentityRegExp, maxLength: MAX_REGEXP_LENGTH })
  certificateIdentityRegExp?: string;
  @ApiPropertyOptional({ description: 'Exact OIDC issuer', example: EXAMPLES.certificateOidcIssuer, maxLength: MAX_POLICY_FIELD_LENGTH })
  certificateOidcIssuer?: string;
  @ApiPropertyOptional({ description: 'Regular expression the whole issuer must match (anchored)', maxLength: MAX_REGEXP_LENGTH })
  certificateOidcIssuerRegExp?: string;
  @ApiPropertyOptional({ description: 'Verify with this public key (PEM) instead of a certificate identity', maxLength: MAX_POLICY_FIELD_LENGTH })
  publicKey?: string;
  @ApiPropertyOptional({
    type: Object,
    additionalProperties: { type: 'string', maxLength: MAX_ANNOTATION_VALUE_LENGTH },
    maxProperties: MAX_ANNOTATIONS,
    description: `Annotations the signed payload must carry (at most ${MAX_ANNOTATIONS}, keys of at most ${MAX_ANNOTATION_KEY_LENGTH} characters)`,
  })
  annotations?: Record<string, string>;
  @ApiPropertyOptional({
    type: ProvenancePolicyDto,
    description: `Require SLSA build provenance as this service attaches it to what it builds: a Sigstore bundle referrer of predicate type ${SLSA_PROVENANCE_PREDICATE_TYPE}, signed by a certificate that satisfies the signer policy above and whose identity is the builder id the statement names, with the artifact as a subject and the build type ${WASM_COMPONENT_BUILD_TYPE}. \`{}\` requires nothing more`,
  })
  provenance?: ProvenancePolicyDto;
}

/** The largest maxAge a request may give (a day; no cache keeps verdicts longer). */
const MAX_AGE_SECONDS = 86400;

export class VerifyArtifactDto {
  @ApiProperty({
    description: 'The artifact: `host[:port]/path@sha256:<hex>`, or a tag, resolved to its digest first',
    example: EXAMPLES.reference,
    maxLength: MAX_REFERENCE_LENGTH,
  })
  @IsString()
  @MaxLength(MAX_REFERENCE_LENGTH)
  reference!: string;

  @ApiProperty({ type: ArtifactVerificationPolicyDto })
  @IsObject()
  policy!: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      'Seconds: answer from a cached verdict only if it was checked at most this long ago (the same for a cached tag resolution); `0` checks live. Without it any cached verdict is used (see VERIFICATION_CACHE_TTL_SECONDS)',
    type: 'integer',
    minimum: 0,
    maximum: MAX_AGE_SECONDS,
    example: 60,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_AGE_SECONDS)
  maxAge?: number;

  @ApiPropertyOptional({ description: 'A configured trust root (GET /v1/trust-roots); default `default`', maxLength: MAX_TRUST_ROOT_NAME_LENGTH })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TRUST_ROOT_NAME_LENGTH)
  trustRoot?: string;

  @ApiPropertyOptional({ description: 'Queue the verification as a job instead of answering at once: 202 with the job, whose result is this answer' })
  @IsOptional()
  @IsBoolean()
  async?: boolean;

  @ApiPropertyOptional({ description: 'With async: notified when the job finishes', format: 'uri', maxLength: MAX_URL_LENGTH })
  @IsOptional()
  @MaxLength(MAX_URL_LENGTH)
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  callbackUrl?: string;
}

export class SignatureVerdictDto {
  @ApiProperty({ enum: ['cosign-classic', 'sigstore-bundle'] }) format!: SignatureFormat;
  @ApiProperty({ description: 'Where the signature was found', example: 'sha256-….sig layer 1' }) location!: string;
  @ApiProperty() verified!: boolean;
  @ApiProperty({ type: String, nullable: true }) identity!: string | null;
  @ApiProperty({ type: String, nullable: true }) issuer!: string | null;
  @ApiProperty({ type: Number, nullable: true }) logIndex!: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) integratedTime!: string | null;
  @ApiProperty({ type: Object, nullable: true, description: '{code, message} when the signature does not verify' }) error!: { code: string; message: string } | null;
}

export class ArchiveSourceDto {
  @ApiProperty({ enum: ['archive'] }) kind!: 'archive';
  @ApiProperty({ description: 'The digest of the source archive', example: 'sha256:…' }) digest!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Its file name as uploaded', example: 'hello.tar.gz' }) fileName!: string | null;
}

export class GitSourceDto {
  @ApiProperty({ enum: ['git'] }) kind!: 'git';
  @ApiProperty({ example: 'https://git.example/org/repo' }) url!: string;
  @ApiProperty({ description: 'The commit built', example: 'c27d339ee6075c1f744c5d4b200f7901aad2c369' }) commit!: string;
}

export class ProvenanceErrorDto {
  @ApiProperty({ enum: Object.keys(PROVENANCE_ERROR_CODES), example: 'PROVENANCE_MISSING' }) code!: ProvenanceErrorCode;
  @ApiProperty() message!: string;
}

export class ProvenanceVerdictDto {
  @ApiProperty({ description: 'True when a provenance attestation verifies and satisfies policy.provenance' }) verified!: boolean;
  @ApiProperty({ type: Number, nullable: true, description: "The attestation's Rekor log index" }) logIndex!: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'runDetails.builder.id: the identity that built and signed', example: EXAMPLES.certificateIdentity }) builderId!:
    string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The builder used (externalParameters.builder.name)', example: 'cargo' }) builder!: string | null;
  @ApiProperty({
    oneOf: [{ $ref: getSchemaPath(ArchiveSourceDto) }, { $ref: getSchemaPath(GitSourceDto) }],
    nullable: true,
    description: 'The source it was built from (externalParameters.source)',
  })
  source!: ProvenanceSource | null;
  @ApiProperty({ type: String, nullable: true, description: 'The build job (runDetails.metadata.invocationId)' }) invocationId!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The referrer the attestation was found in; null when there is none', example: 'referrer sha256:…' })
  location!: string | null;
  @ApiProperty({
    type: ProvenanceErrorDto,
    nullable: true,
    description: 'Why no provenance verifies (of several attestations, the one that got furthest through the checks, in the order the codes are listed)',
  })
  error!: ProvenanceErrorDto | null;
}

@ApiExtraModels(ArchiveSourceDto, GitSourceDto)
export class ArtifactVerificationDto {
  @ApiProperty({ description: 'True when at least one signature verifies and satisfies the policy, and (when the policy asks for it) a provenance attestation does too' })
  verified!: boolean;
  @ApiProperty({ description: 'The reference that was verified, by digest' }) reference!: string;
  @ApiProperty({ example: 'sha256:…' }) digest!: string;
  @ApiProperty({ type: [SignatureVerdictDto] }) signatures!: SignatureVerdictDto[];
  @ApiProperty({ type: ProvenanceVerdictDto, nullable: true, description: 'The verdict on the build provenance; null when the policy asks for none' })
  provenance!: ProvenanceVerdictDto | null;
  @ApiProperty({
    type: Object,
    nullable: true,
    description:
      'Why it is not verified: NO_SIGNATURES when there is no signature at all, NO_VERIFIED_SIGNATURE; when a signature verifies but the provenance does not, the provenance error (PROVENANCE_…)',
  })
  error!: { code: string; message: string } | null;
  @ApiProperty({
    description:
      'True when this verdict was reused from an earlier check (same digest, repository, whole policy and trust root) instead of read live from the registry; `maxAge: 0` forces a live check',
  })
  fromCache!: boolean;
  @ApiProperty({
    type: String,
    format: 'date-time',
    description: 'When the registry was read for this verdict (RFC 3339); the same on every answer from the cache',
    example: '2025-01-01T12:00:00.000Z',
  })
  checkedAt!: string;
}
