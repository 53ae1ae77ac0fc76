import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { SignatureFormat } from '../database/database.types';
import { IsBoolean, IsObject, IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { MAX_REGEXP_LENGTH } from '../common/caller-regexp';
import {
  MAX_ANNOTATION_KEY_LENGTH,
  MAX_ANNOTATION_VALUE_LENGTH,
  MAX_ANNOTATIONS,
  MAX_POLICY_FIELD_LENGTH,
  MAX_REFERENCE_LENGTH,
  MAX_TRUST_ROOT_NAME_LENGTH,
  MAX_URL_LENGTH,
} from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';

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
}

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

export class ArtifactVerificationDto {
  @ApiProperty({ description: 'True when at least one signature verifies and satisfies the policy' }) verified!: boolean;
  @ApiProperty({ description: 'The reference that was verified, by digest' }) reference!: string;
  @ApiProperty({ example: 'sha256:…' }) digest!: string;
  @ApiProperty({ type: [SignatureVerdictDto] }) signatures!: SignatureVerdictDto[];
  @ApiProperty({ type: Object, nullable: true, description: 'Why nothing verified: code NO_SIGNATURES when there is no signature at all' })
  error!: { code: string; message: string } | null;
}
