import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';
import { JobDto } from '../pipeline/job.dto';
import type { AttemptRow, DeliveryRow, WebhookRow } from './webhook-tables';
import { DELIVERY_STATES, type DeliveryState, WEBHOOK_EVENTS, type WebhookEvent } from './webhook-tables';

export const DEFAULT_WEBHOOK_PAGE_SIZE = 50;
export const MAX_WEBHOOK_PAGE_SIZE = 200;
/** Deliveries one `enable?redeliverFailed=true` sends again at most (each is a few queue round trips). */
export const MAX_REDELIVERED_ON_ENABLE = 500;

/** Paging of `GET /v1/webhooks`. */
export class ListWebhooksQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_WEBHOOK_PAGE_SIZE, default: DEFAULT_WEBHOOK_PAGE_SIZE, example: DEFAULT_WEBHOOK_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_WEBHOOK_PAGE_SIZE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Opaque cursor from `nextCursor` of the previous page (with the same filters)', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

/** Filters and paging of `GET /v1/webhooks/{id}/deliveries`. */
export class ListWebhookDeliveriesQueryDto extends ListWebhooksQueryDto {
  @ApiPropertyOptional({
    enum: DELIVERY_STATES,
    description:
      'pending (waiting for its next attempt), delivered (a 2xx came), failed (every attempt used up, or the target refused), abandoned (410 Gone, or its subscription was disabled)',
    example: 'failed',
  })
  @IsOptional()
  @IsIn(DELIVERY_STATES, { message: `state must be one of ${DELIVERY_STATES.join(', ')}` })
  state?: DeliveryState;

  @ApiPropertyOptional({ enum: WEBHOOK_EVENTS, description: 'The event the delivery carries', example: 'job.succeeded' })
  @IsOptional()
  @IsIn(WEBHOOK_EVENTS, { message: `event must be one of ${WEBHOOK_EVENTS.join(', ')}` })
  event?: WebhookEvent;
}

/** Options of `POST /v1/webhooks/{id}/enable`. */
export class EnableWebhookQueryDto {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    default: 'false',
    description: `true: also send again (as redelivery does) the deliveries that failed or were abandoned since the receiver last took one, oldest first, at most ${MAX_REDELIVERED_ON_ENABLE}`,
    example: 'true',
  })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'redeliverFailed must be true or false' })
  redeliverFailed?: 'true' | 'false';
}

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
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Set while deliveries are stopped (after a 410 Gone, too many failed deliveries in a row, or POST …/disable); POST …/enable clears it',
  })
  disabledAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'Why: a 410 Gone, failed deliveries in a row (WEBHOOK_DISABLE_AFTER_FAILURES), or the caller that disabled it' })
  disabledReason!: string | null;
  @ApiProperty({ description: 'Deliveries in a row that failed; a delivered one and re-enabling reset it', example: 0 }) consecutiveFailures!: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: string;

  static from(row: WebhookRow): WebhookDto {
    return {
      id: row.id,
      url: row.url,
      events: row.events,
      description: row.description,
      disabledAt: row.disabled_at?.toISOString() ?? null,
      disabledReason: row.disabled_reason,
      consecutiveFailures: row.consecutive_failures,
      createdAt: row.created_at.toISOString(),
    };
  }
}

export class WebhookPageDto {
  @ApiProperty({ type: [WebhookDto] }) items!: WebhookDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' }) nextCursor!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'URL of the next page; also in the Link header', example: '/v1/webhooks?limit=50&cursor=…' }) next!: string | null;
}

export class EnabledWebhookDto extends WebhookDto {
  @ApiProperty({ type: [String], description: 'The webhook-ids sent again (redeliverFailed=true); empty otherwise', example: ['msg_2b7Q4pVb8nY1c0kQ3sJm5d6w'] })
  redelivered!: string[];
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

export class WebhookDeliveryPageDto {
  @ApiProperty({ type: [WebhookDeliveryDto] }) items!: WebhookDeliveryDto[];
  @ApiProperty({ type: String, nullable: true, description: 'Cursor of the next page; null on the last page' }) nextCursor!: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'URL of the next page (same filters); also in the Link header',
    example: '/v1/webhooks/0b3c5a1e-8d2f-4c7a-9e61-2f5d8a4b7c90/deliveries?limit=50&cursor=…',
  })
  next!: string | null;
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
