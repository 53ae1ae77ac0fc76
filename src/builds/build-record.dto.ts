import { ApiProperty } from '@nestjs/swagger';
import type { BuildAttestationSummary } from './build-records.repository';
import type { BuildRow } from './build-tables';

export class ToolchainComponentDto {
  @ApiProperty({ example: 'rustc' }) name!: string;
  @ApiProperty({ example: '1.63.0' }) version!: string;
  @ApiProperty({ description: 'Package URL', example: 'pkg:generic/rustc@1.63.0' }) uri!: string;
  @ApiProperty({ type: Object, nullable: true, description: '{"sha256": "<hex>"} of the binary or package', example: { sha256: '…' } }) digest!: { sha256: string } | null;
}

export class BuildAttestationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'https://slsa.dev/provenance/v1' }) predicateType!: string;
  @ApiProperty({ description: 'The manifest the attestation is about (its subject)', example: 'sha256:…' }) manifestDigest!: string;
  @ApiProperty({ description: 'sha256 of the signed in-toto statement', example: 'sha256:…' }) statementDigest!: string;
  @ApiProperty({ description: 'Index of the attestation in the Rekor transparency log' }) logIndex!: number;
  @ApiProperty({ type: String, nullable: true }) entryUuid!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) integratedTime!: string;
  @ApiProperty({ description: 'The signing identity, also the provenance builder id' }) identity!: string;
  @ApiProperty() issuer!: string;
}

/** GET /v1/builds/{id}: a build as recorded. */
export class BuildRecordDto {
  @ApiProperty({ format: 'uuid', description: 'The build job (GET /v1/jobs/{id})' }) id!: string;
  @ApiProperty({ enum: ['componentize-js', 'cargo'] }) builder!: string;
  @ApiProperty({ type: Object, additionalProperties: true }) options!: Record<string, unknown>;
  @ApiProperty({
    type: Object,
    additionalProperties: true,
    description: 'The source: `{"kind":"archive","digest":"sha256:…","size":…,"format":"tar.gz","fileName":…}` or `{"kind":"git","url":…,"commit":…,"tree":…}`',
  })
  source!: Record<string, unknown>;
  @ApiProperty() repository!: string;
  @ApiProperty({ type: [ToolchainComponentDto], nullable: true, description: 'What built it (null until the build ran)' }) toolchain!: ToolchainComponentDto[] | null;
  @ApiProperty({ type: String, nullable: true, description: 'sha256 of Cargo.lock, when the crate has one' }) cargoLockDigest!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'sha256 of the build log as kept (GET /v1/jobs/{id}/logs)' }) logDigest!: string | null;
  @ApiProperty({ type: Boolean, nullable: true, description: 'Whether the log was cut at BUILD_MAX_LOG_BYTES' }) logTruncated!: boolean | null;
  @ApiProperty({ type: String, nullable: true, description: 'sha256 of the built .wasm' }) wasmDigest!: string | null;
  @ApiProperty({ type: [BuildAttestationDto], description: 'The signed provenance (SLSA v1), once the attest step ran' }) attestations!: BuildAttestationDto[];
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) startedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finishedAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;

  static from(row: BuildRow, attestations: BuildAttestationSummary[]): BuildRecordDto {
    return {
      id: row.job_id,
      builder: row.builder,
      options: row.builder_options,
      source: row.source,
      repository: row.repository,
      toolchain: row.toolchain?.map((t) => ({ name: t.name, version: t.version, uri: t.uri, digest: t.digest ?? null })) ?? null,
      cargoLockDigest: row.cargo_lock_digest,
      logDigest: row.log_digest,
      logTruncated: row.log_truncated,
      wasmDigest: row.wasm_digest,
      attestations: attestations.map((a) => ({ ...a, integratedTime: a.integratedTime.toISOString() })),
      startedAt: row.started_at?.toISOString() ?? null,
      finishedAt: row.finished_at?.toISOString() ?? null,
      createdAt: row.created_at.toISOString(),
    };
  }
}

export class BuilderDto {
  @ApiProperty({ enum: ['componentize-js', 'cargo'] }) name!: string;
  @ApiProperty({ description: 'A build worker can run it now' }) available!: boolean;
  @ApiProperty({ description: 'Build workers that reported it available in the last 45 s' }) workers!: number;
  @ApiProperty({ type: [ToolchainComponentDto], description: 'Toolchain versions on the build workers' }) toolchain!: ToolchainComponentDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Why it is not available', example: null }) reason!: string | null;
}
