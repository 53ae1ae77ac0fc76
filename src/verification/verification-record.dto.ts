import { ApiProperty } from '@nestjs/swagger';
import type { VerificationRow } from '../database/database.types';
import { SignatureVerdictDto } from './artifact-verification.dto';

export class VerificationRecordErrorDto {
  @ApiProperty({ example: 'NO_VERIFIED_SIGNATURE' }) code!: string;
  @ApiProperty() message!: string;
}

/** One recorded artifact verification, as verification events carry it. */
export class VerificationRecordDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ description: 'The reference as the caller gave it (tag or digest)', example: 'registry.example.com/team/hello-http:v1.0.0' }) reference!: string;
  @ApiProperty({ example: 'registry.example.com/team/hello-http' }) repository!: string;
  @ApiProperty({ description: 'The manifest digest that was verified', example: 'sha256:…' }) digest!: string;
  @ApiProperty({ type: Object, additionalProperties: true, description: 'The policy as given' }) policy!: Record<string, unknown>;
  @ApiProperty({ example: 'default' }) trustRoot!: string;
  @ApiProperty() verified!: boolean;
  @ApiProperty({ type: VerificationRecordErrorDto, nullable: true, description: 'Why nothing verified' }) error!: VerificationRecordErrorDto | null;
  @ApiProperty({ type: [SignatureVerdictDto], description: 'The verdict on each signature found' }) signatures!: SignatureVerdictDto[];
  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'The job that verified (verify job, or the verify step of a publish or sign job); null when answered at once',
  })
  jobId!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;

  static from(row: VerificationRow): VerificationRecordDto {
    return {
      id: row.id,
      reference: row.reference,
      repository: row.repository,
      digest: row.digest,
      policy: row.policy,
      trustRoot: row.trust_root,
      verified: row.verified,
      error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
      signatures: row.signatures,
      jobId: row.job_id,
      createdAt: row.created_at.toISOString(),
    };
  }
}

export class VerificationEventDataDto {
  @ApiProperty({ type: VerificationRecordDto, description: 'The recorded verification' }) verification!: VerificationRecordDto;
}

/** The JSON body of verification.succeeded / verification.failed for a verification answered at once (no job). */
export class VerificationEventDto {
  @ApiProperty({ enum: ['verification.succeeded', 'verification.failed'] }) type!: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'When the verification was recorded' }) timestamp!: string;
  @ApiProperty({ type: VerificationEventDataDto }) data!: VerificationEventDataDto;
}
