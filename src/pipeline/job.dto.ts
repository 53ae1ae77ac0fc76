import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { JobRow } from '../database/database.types';

export class JobStepDto {
  @ApiProperty({ enum: ['build', 'push', 'sign', 'attest', 'verify', 'notify'] }) name!: string;
  @ApiProperty({ enum: ['pending', 'running', 'succeeded', 'failed', 'skipped'] }) state!: string;
  @ApiProperty({ description: 'Attempts made so far' }) attempts!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) startedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Worker instance that ran the step last' }) worker!: string | null;
}

export class JobErrorDto {
  @ApiProperty({ example: 'REGISTRY_UNAUTHORIZED' }) code!: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({ description: 'Step that failed' }) step?: string;
}

export class JobSignatureDto {
  @ApiProperty({ format: 'uuid', description: 'The signature record: GET /v1/signatures/{id}' }) id!: string;
  @ApiProperty({ enum: ['cosign-classic', 'sigstore-bundle'] }) format!: string;
  @ApiProperty({ description: 'Index of the entry in the Rekor transparency log' }) logIndex!: number;
  @ApiProperty({ description: 'Rekor entry UUID (tree ID + leaf hash, hex)' }) entryUuid!: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'When Rekor integrated the entry' }) integratedTime!: string;
  @ApiProperty({ description: 'Signing identity: the certificate subject alternative name', example: 'https://kubernetes.io/namespaces/ci/serviceaccounts/signer' })
  identity!: string;
  @ApiProperty({ description: 'OIDC issuer from the certificate', example: 'https://kubernetes.default.svc' }) issuer!: string;
}

export class JobResultDto {
  @ApiPropertyOptional({ example: 'registry.example.com/team/hello-http' }) repository?: string;
  @ApiPropertyOptional({ description: 'Digest reference of the pushed and signed manifest (publish and sign jobs)', example: 'registry.example.com/team/hello-http@sha256:…' })
  reference?: string;
  @ApiPropertyOptional({ description: 'Digest of the signed manifest', example: 'sha256:…' }) manifestDigest?: string;
  @ApiPropertyOptional({ description: 'sha256 of the .wasm (the layer digest)', example: 'sha256:…' }) wasmDigest?: string;
  @ApiPropertyOptional({ type: String, nullable: true }) tag?: string | null;
  @ApiPropertyOptional({ type: [JobSignatureDto], description: 'The signatures the sign step made, one record per format' }) signatures?: JobSignatureDto[];
  @ApiPropertyOptional({ type: Object, additionalProperties: true, description: 'What the verify step checked' }) verification?: Record<string, unknown>;
  @ApiPropertyOptional({
    type: Object,
    additionalProperties: true,
    description: 'Build jobs: how the component was built (builder, toolchain versions, source, build log digest, the component); GET /v1/builds/{id} has the whole record',
  })
  build?: Record<string, unknown>;
  @ApiPropertyOptional({
    type: Object,
    additionalProperties: true,
    description: 'Build jobs: the signed SLSA provenance attached to the manifest (predicate type, Rekor log index, builder id, referrer digest)',
  })
  provenance?: Record<string, unknown>;
}

export class JobDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['publish', 'sign', 'build', 'verify', 'probe'] }) type!: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed'] }) state!: string;
  @ApiProperty({ type: [JobStepDto] }) steps!: JobStepDto[];
  @ApiProperty({ type: JobResultDto, nullable: true, description: 'What the job produced so far (publish, sign and build jobs); probes list the worker of each step' })
  result!: Record<string, unknown> | null;
  @ApiProperty({ type: JobErrorDto, nullable: true }) error!: JobErrorDto | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt!: string | null;

  static from(row: JobRow): JobDto {
    return {
      id: row.id,
      type: row.type,
      state: row.state,
      steps: row.steps.map((s) => ({ name: s.name, state: s.state, attempts: s.attempts, startedAt: s.startedAt, finishedAt: s.finishedAt, worker: s.worker })),
      result: row.result,
      error: row.error,
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
      finishedAt: row.finished_at?.toISOString() ?? null,
    };
  }
}
