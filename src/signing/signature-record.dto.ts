import type { CallerIdentity } from '../access/caller';
import { CallerIdentityDto } from '../access/caller-identity.dto';
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { MAX_DIGEST_LENGTH, MAX_REFERENCE_LENGTH } from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';
import type { SignatureFormat, SignatureRow } from '../database/database.types';
import { type CertificateDetails, certificateDetails } from '../x509/certificate-details';

export const SIGNATURE_FORMAT_VALUES: SignatureFormat[] = ['cosign-classic', 'sigstore-bundle'];
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Filters and paging of `GET /v1/signatures`. */
export class ListSignaturesQueryDto {
  @ApiPropertyOptional({ description: 'Manifest digest or .wasm digest', example: EXAMPLES.wasmDigest, maxLength: MAX_DIGEST_LENGTH })
  @IsOptional()
  @MaxLength(MAX_DIGEST_LENGTH)
  @Matches(/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/, { message: 'digest must be sha256:<64 hex> or sha512:<128 hex>' })
  digest?: string;

  @ApiPropertyOptional({ description: 'Repository, host[:port]/path', example: EXAMPLES.repository, maxLength: MAX_REFERENCE_LENGTH })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_REFERENCE_LENGTH)
  repository?: string;

  @ApiPropertyOptional({ description: 'Signing identity (certificate SAN), exact', example: EXAMPLES.certificateIdentity, maxLength: 2048 })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  identity?: string;

  @ApiPropertyOptional({ description: 'OIDC issuer from the certificate, exact', example: EXAMPLES.certificateOidcIssuer, maxLength: 2048 })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  issuer?: string;

  @ApiPropertyOptional({ description: 'Created at or after this time (RFC 3339)', format: 'date-time', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  since?: string;

  @ApiPropertyOptional({ description: 'Created before this time (RFC 3339)', format: 'date-time', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  until?: string;

  @ApiPropertyOptional({ enum: SIGNATURE_FORMAT_VALUES })
  @IsOptional()
  @IsIn(SIGNATURE_FORMAT_VALUES)
  format?: SignatureFormat;

  @ApiPropertyOptional({ description: `Page size (1–${MAX_PAGE_SIZE})`, default: DEFAULT_PAGE_SIZE, minimum: 1, maximum: MAX_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from `nextCursor` of the previous page', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class RekorEntryRefDto {
  @ApiProperty({ type: 'integer', description: 'Index of the entry in the Rekor log' }) logIndex!: number;
  @ApiProperty({ description: 'Entry UUID (16-hex tree ID + 64-hex leaf hash)' }) entryUuid!: string;
  @ApiProperty({ format: 'date-time', description: 'When Rekor integrated the entry' }) integratedTime!: string;
  @ApiProperty({ description: "Hex SHA-256 of the log's public key" }) logId!: string;
}

/** A signature record as listings show it. */
export class SignatureRecordSummaryDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: SIGNATURE_FORMAT_VALUES }) format!: SignatureFormat;
  @ApiProperty({ example: 'registry.example.com/team/hello-http' }) repository!: string;
  @ApiProperty({ description: 'The reference as the caller gave it (tag or digest)' }) reference!: string;
  @ApiProperty({ example: 'sha256:…' }) manifestDigest!: string;
  @ApiProperty({ type: String, nullable: true, description: 'sha256 of the .wasm, when known' }) wasmDigest!: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' }) jobId!: string | null;
  @ApiProperty({ type: RekorEntryRefDto }) rekor!: RekorEntryRefDto;
  @ApiProperty({ description: 'Signing identity: the certificate subject alternative name' }) identity!: string;
  @ApiProperty({ description: 'OIDC issuer from the certificate' }) issuer!: string;
  @ApiProperty({
    type: CallerIdentityDto,
    nullable: true,
    description: 'On whose behalf the service signed (also inside the signed payload, annotation dev.wasm-signer.requested-by); null for signatures made before access control',
  })
  requestedBy!: CallerIdentityDto | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;

  static from(row: SignatureRow): SignatureRecordSummaryDto {
    return {
      id: row.id,
      format: row.format,
      repository: row.repository,
      reference: row.reference,
      manifestDigest: row.manifest_digest,
      wasmDigest: row.wasm_digest,
      jobId: row.job_id,
      rekor: {
        logIndex: row.rekor_log_index,
        entryUuid: row.rekor_entry_uuid,
        integratedTime: row.rekor_integrated_time.toISOString(),
        logId: row.rekor_log_id,
      },
      identity: row.identity,
      issuer: row.issuer,
      requestedBy: row.requested_by ? CallerIdentityDto.from(row.requested_by as unknown as CallerIdentity) : null,
      createdAt: row.created_at.toISOString(),
    };
  }
}

/** A signature record with its certificate and Sigstore bundle. */
export class SignatureRecordDto extends SignatureRecordSummaryDto {
  /** The schema is the transparency log API's `CertificateDto` (named, not imported: features share no code). */
  @ApiProperty({ allOf: [{ $ref: getSchemaPath('CertificateDto') }] }) certificate!: { pem: string; decoded: CertificateDetails };
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The Sigstore bundle (JSON) as signed and stored' }) bundle!: Record<string, unknown>;

  static fromRow(row: SignatureRow): SignatureRecordDto {
    return { ...SignatureRecordSummaryDto.from(row), certificate: { pem: row.certificate_pem, decoded: certificateDetails(row.certificate_pem) }, bundle: row.bundle };
  }
}

export class SignatureRecordPageDto {
  @ApiProperty({ type: [SignatureRecordSummaryDto], description: 'Newest first' }) items!: SignatureRecordSummaryDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' }) nextCursor!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'URL of the next page (same filters); also in the Link header', example: '/v1/signatures?limit=50&cursor=…' })
  next!: string | null;
}
