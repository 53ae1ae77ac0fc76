import type { ColumnType, Generated, Selectable } from 'kysely';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export const WEBHOOK_EVENTS = ['job.succeeded', 'job.failed', 'signature.created', 'verification.succeeded', 'verification.failed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
export const DELIVERY_STATES = ['pending', 'delivered', 'failed', 'abandoned'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface WebhooksTable {
  id: Generated<string>;
  url: string;
  events: Json<WebhookEvent[]>;
  description: string | null;
  /** The Standard Webhooks secret, sealed (`v1.…`, see common/secret-box.ts); a plain `whsec_…` one until sealed on start. */
  sealed_secret: string;
  disabled_at: Timestamp | null;
  disabled_reason: string | null;
  /** Deliveries in a row that failed (migration 0008); reset by a delivered one and by re-enabling. */
  consecutive_failures: ColumnType<number, number | undefined, number>;
  /** The caller (principal) that created it; it sees and receives only its own jobs' events. */
  owner: string | null;
  /** Whether it receives events of every caller's jobs (made by an admin, or before access control). */
  receives_all_callers: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string | null;
  callback_url: string | null;
  job_id: string | null;
  /** The verification record of a synchronous verification's event (its deliveries have no job). */
  verification_id: string | null;
  event: WebhookEvent;
  payload: string;
  state: DeliveryState;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp | null;
  created_at: CreatedAt;
  delivered_at: Timestamp | null;
}

export interface WebhookAttemptsTable {
  id: Generated<string>;
  delivery_id: string;
  at: Timestamp;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
}

/** The webhook tables (migration 0002), added to the shared schema with Kysely's withTables. */
export type WebhookTables = {
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
};

export type WebhookRow = Selectable<WebhooksTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AttemptRow = Selectable<WebhookAttemptsTable>;
