import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { JobRow } from '../database/database.types';

export class JobStepDto {
  @ApiProperty({ enum: ['build', 'push', 'sign', 'verify', 'notify'] }) name!: string;
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

export class JobDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['publish', 'sign', 'build', 'verify', 'probe'] }) type!: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed'] }) state!: string;
  @ApiProperty({ type: [JobStepDto] }) steps!: JobStepDto[];
  @ApiProperty({ type: Object, nullable: true, additionalProperties: true, description: 'What the job produced; its shape depends on the job type' })
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
