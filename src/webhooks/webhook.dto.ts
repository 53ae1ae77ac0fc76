import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';
import { JobDto } from '../pipeline/job.dto';
import type { AttemptRow, DeliveryRow, WebhookRow } from './webhook-tables';
import { WEBHOOK_EVENTS, type WebhookEvent } from './webhook-tables';

export class CreateWebhookDto {
  @ApiProperty({
    description: 'Receiver URL: public HTTPS (internal or plain-HTTP targets only when WEBHOOK_ALLOWLIST names them)',
    example: EXAMPLES.webhookUrl,
    maxLength: MAX_URL_LENGTH,
  })
  @IsString()
  @MaxLength(MAX_URL_LENGTH)
  url!: string;

  @ApiProperty({ enum: WEBHOOK_EVENTS, isArray: true, example: ['job.succeeded', 'job.failed'], maxItems: WEBHOOK_EVENTS.length })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(WEBHOOK_EVENTS.length)
  @ArrayUnique()
  @IsIn(WEBHOOK_EVENTS, { each: true, message: `each event must be one of ${WEBHOOK_EVENTS.join(', ')}` })
  events!: WebhookEvent[];

  @ApiPropertyOptional({ maxLength: MAX_DESCRIPTION_LENGTH })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_DESCRIPTION_LENGTH)
  description?: string;
}

export class WebhookDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: WEBHOOK_EVENTS, isArray: true }) events!: string[];
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Set when deliveries stopped, for example after a 410 Gone' }) disabledAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) disabledReason!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;

  static from(row: WebhookRow): WebhookDto {
    return {
      id: row.id,
      url: row.url,
      events: row.events,
      description: row.description,
      disabledAt: row.disabled_at?.toISOString() ?? null,
      disabledReason: row.disabled_reason,
      createdAt: row.created_at.toISOString(),
    };
  }
}

export class WebhookWithSecretDto extends WebhookDto {
  @ApiProperty({ description: 'Standard Webhooks signing secret, shown only now', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }) secret!: string;
}

export class WebhookAttemptDto {
  @ApiProperty({ type: String, format: 'date-time' }) at!: string;
  @ApiProperty({ type: Number, nullable: true, description: 'HTTP status of the answer; null when none came' }) statusCode!: number | null;
  @ApiProperty() latencyMs!: number;
  @ApiProperty({ type: String, nullable: true, description: 'First KiB of the answer' }) responseExcerpt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why no answer came (connection, timeout, refused address)' }) error!: string | null;

  static from(row: AttemptRow): WebhookAttemptDto {
    return { at: row.at.toISOString(), statusCode: row.status_code, latencyMs: row.latency_ms, responseExcerpt: row.response_excerpt, error: row.error };
  }
}

export class WebhookDeliveryDto {
  @ApiProperty({ description: 'The `webhook-id` header: the same on every attempt', example: 'msg_2b7Q4pVb8nY1c0kQ3sJm5d6w' }) id!: string;
  @ApiProperty({ enum: WEBHOOK_EVENTS }) event!: string;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) jobId!: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true, description: 'The verification record, for events of verifications answered at once' }) verificationId!:
    string | null;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed', 'abandoned'] }) state!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextAttemptAt!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt!: string | null;
  @ApiProperty({ type: Object, additionalProperties: true, description: 'The body sent (a WebhookPayloadDto, or a VerificationEventDto)' }) payload!: Record<string, unknown>;
  @ApiProperty({ type: [WebhookAttemptDto] }) attemptLog!: WebhookAttemptDto[];

  static from(row: DeliveryRow, attempts: AttemptRow[]): WebhookDeliveryDto {
    return {
      id: row.id,
      event: row.event,
      jobId: row.job_id,
      verificationId: row.verification_id,
      state: row.state,
      attempts: row.attempts,
      nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
      createdAt: row.created_at.toISOString(),
      deliveredAt: row.delivered_at?.toISOString() ?? null,
      payload: JSON.parse(row.payload) as Record<string, unknown>,
      attemptLog: attempts.map((a) => WebhookAttemptDto.from(a)),
    };
  }
}

export class WebhookPayloadDataDto {
  @ApiProperty({ type: JobDto, description: 'The job as GET /v1/jobs/{id} shows it, with its result (signatures, verification) or error' }) job!: JobDto;
}

/** The JSON body of every job event, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). */
export class WebhookPayloadDto {
  @ApiProperty({
    enum: WEBHOOK_EVENTS,
    description:
      'job.succeeded / job.failed: a job finished; signature.created: a sign step recorded signatures (data.job.result.signatures); verification.succeeded / verification.failed: the verify step of a job answered verified true / false (or failed). Verifications answered at once (POST /v1/verifications without async) send a VerificationEventDto instead.',
  })
  type!: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'When the event happened' }) timestamp!: string;
  @ApiProperty({ type: WebhookPayloadDataDto }) data!: WebhookPayloadDataDto;
}
