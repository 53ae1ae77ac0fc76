import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from '../database/database.service';
import { isUuid } from '../common/uuid';
import { afterCursor, afterTextIdCursor, createdAtExact, type PageCursor, pageOf, textIdDescending } from '../database/page-cursor';
import type { AttemptRow, DeliveryRow, DeliveryState, WebhookEvent, WebhookRow, WebhookTables } from './webhook-tables';

export interface DeliveryFilter {
  state?: DeliveryState;
  event?: WebhookEvent;
}

export interface Page<R> {
  rows: R[];
  next: PageCursor | undefined;
}

export interface NewDelivery {
  id: string;
  webhookId: string | null;
  callbackUrl: string | null;
  jobId: string | null;
  verificationId?: string | null;
  event: WebhookEvent;
  payload: string;
}

/** Subscriptions, deliveries and attempts in the system of record. */
@Injectable()
export class WebhooksRepository {
  constructor(private readonly database: DatabaseService) {}

  private get db() {
    return this.database.db.withTables<WebhookTables>();
  }

  /** Records a subscription under the id its sealed secret is bound to. */
  create(subscription: {
    id: string;
    url: string;
    events: WebhookEvent[];
    description: string | null;
    sealedSecret: string;
    owner: string;
    receivesAllCallers: boolean;
  }): Promise<WebhookRow> {
    return this.db
      .insertInto('webhooks')
      .values({
        id: subscription.id,
        url: subscription.url,
        events: JSON.stringify(subscription.events),
        description: subscription.description,
        sealed_secret: subscription.sealedSecret,
        owner: subscription.owner,
        receives_all_callers: subscription.receivesAllCallers,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** One page of every subscription, or (with `owner`) of that caller's own; newest first (created_at desc, id desc). */
  async list(owner: string | undefined, limit: number, after?: PageCursor): Promise<Page<WebhookRow>> {
    let query = this.db.selectFrom('webhooks').selectAll().select(createdAtExact.as('created_at_exact'));
    if (owner !== undefined) query = query.where('owner', '=', owner);
    if (after) query = query.where(afterCursor(after));
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    return pageOf(rows, limit);
  }

  async find(id: string): Promise<WebhookRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async delete(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async rotateSecret(id: string, sealedSecret: string): Promise<WebhookRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.updateTable('webhooks').set({ sealed_secret: sealedSecret }).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async disable(id: string, reason: string): Promise<void> {
    await this.db.updateTable('webhooks').set({ disabled_at: new Date(), disabled_reason: reason }).where('id', '=', id).where('disabled_at', 'is', null).execute();
  }

  /** Disables a subscription unless it already is (the first reason is kept); the row as it is now. */
  async pause(id: string, reason: string): Promise<WebhookRow | undefined> {
    await this.disable(id, reason);
    return this.find(id);
  }

  /** Turns a subscription back on: not disabled, no reason, no failures counted. */
  async enable(id: string): Promise<WebhookRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.updateTable('webhooks').set({ disabled_at: null, disabled_reason: null, consecutive_failures: 0 }).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /**
   * Counts a failed delivery of the subscription and, when that makes `disableAfter` in a row (0: never),
   * disables it with `reason`, in one statement. True when this call disabled it.
   */
  async countFailedDelivery(id: string, disableAfter: number, reason: string): Promise<boolean> {
    const row = await this.db
      .updateTable('webhooks')
      .set((eb) => ({
        consecutive_failures: eb('consecutive_failures', '+', 1),
        disabled_at: sql<Date | null>`case when disabled_at is null and ${disableAfter} > 0 and consecutive_failures + 1 >= ${disableAfter} then now() else disabled_at end`,
        disabled_reason: sql<
          string | null
        >`case when disabled_at is null and ${disableAfter} > 0 and consecutive_failures + 1 >= ${disableAfter} then ${reason} else disabled_reason end`,
      }))
      .where('id', '=', id)
      .returning(sql<boolean>`disabled_at = now()`.as('disabled_now'))
      .executeTakeFirst();
    return row?.disabled_now === true;
  }

  /** A delivered delivery ends a run of failures (no write when there was none). */
  async resetFailures(id: string): Promise<void> {
    await this.db.updateTable('webhooks').set({ consecutive_failures: 0 }).where('id', '=', id).where('consecutive_failures', '<>', 0).execute();
  }

  /**
   * The failed or abandoned deliveries of a subscription newer than its newest delivered one (those
   * that failed since the receiver last took one), oldest first, at most `limit`.
   */
  failedSinceLastDelivered(webhookId: string, limit: number): Promise<{ id: string }[]> {
    return this.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('webhook_id', '=', webhookId)
      .where('state', 'in', ['failed', 'abandoned'])
      .where(
        sql<boolean>`created_at > coalesce((select max(d.created_at) from webhook_deliveries d where d.webhook_id = ${webhookId} and d.state = 'delivered'), '-infinity'::timestamptz)`,
      )
      .orderBy('created_at')
      .orderBy(sql`id collate "C"`)
      .limit(limit)
      .execute();
  }

  /** Enabled subscriptions to `event` that may see what `caller` (the job's or verification's) did. */
  subscribersTo(event: WebhookEvent, caller: string | null): Promise<WebhookRow[]> {
    return this.db
      .selectFrom('webhooks')
      .selectAll()
      .where('disabled_at', 'is', null)
      .where(sql<boolean>`events @> ${JSON.stringify([event])}::jsonb`)
      .where((eb) => (caller === null ? eb('receives_all_callers', '=', true) : eb.or([eb('receives_all_callers', '=', true), eb('owner', '=', caller)])))
      .execute();
  }

  /** Enabled subscriptions to any of `events` that may see what `caller` did (one query for a step's events). */
  subscribersToAny(events: readonly WebhookEvent[], caller: string | null): Promise<WebhookRow[]> {
    return this.db
      .selectFrom('webhooks')
      .selectAll()
      .where('disabled_at', 'is', null)
      .where(sql<boolean>`events ?| ${sql.val([...events])}::text[]`)
      .where((eb) => (caller === null ? eb('receives_all_callers', '=', true) : eb.or([eb('receives_all_callers', '=', true), eb('owner', '=', caller)])))
      .execute();
  }

  /** Records a delivery unless one with this id exists (emitting an event twice is harmless). */
  async insertDelivery(delivery: NewDelivery): Promise<void> {
    await this.db
      .insertInto('webhook_deliveries')
      .values({
        id: delivery.id,
        webhook_id: delivery.webhookId,
        callback_url: delivery.callbackUrl,
        job_id: delivery.jobId,
        verification_id: delivery.verificationId ?? null,
        event: delivery.event,
        payload: delivery.payload,
        state: 'pending',
        next_attempt_at: new Date(),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }

  findDelivery(id: string): Promise<DeliveryRow | undefined> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** One page of a subscription's deliveries, newest first (created_at desc, then id byte order desc). */
  async deliveriesOf(webhookId: string, filter: DeliveryFilter, limit: number, after?: PageCursor): Promise<Page<DeliveryRow>> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll().select(createdAtExact.as('created_at_exact')).where('webhook_id', '=', webhookId);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (filter.event !== undefined) query = query.where('event', '=', filter.event);
    if (after) query = query.where(afterTextIdCursor(after));
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy(textIdDescending)
      .limit(limit + 1)
      .execute();
    return pageOf(rows, limit);
  }

  attemptsOf(deliveryIds: string[]): Promise<AttemptRow[]> {
    if (deliveryIds.length === 0) return Promise.resolve([]);
    return this.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', deliveryIds).orderBy('at').execute();
  }

  /** Pending deliveries due before `dueBefore`: candidates to re-enqueue when their queue job is gone. */
  pendingDeliveries(dueBefore: Date, limit: number): Promise<DeliveryRow[]> {
    return this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', dueBefore)]))
      .orderBy('created_at')
      .limit(limit)
      .execute();
  }

  /** Records one attempt and the state it leaves the delivery in, together. */
  async recordAttempt(
    deliveryId: string,
    attempt: { at: Date; statusCode: number | null; latencyMs: number; responseExcerpt: string | null; error: string | null },
    outcome: { state: DeliveryState; nextAttemptAt: Date | null },
  ): Promise<void> {
    await this.database.db.transaction().execute(async (trx) => {
      const tx = trx.withTables<WebhookTables>();
      await tx
        .insertInto('webhook_attempts')
        .values({
          delivery_id: deliveryId,
          at: attempt.at,
          status_code: attempt.statusCode,
          latency_ms: attempt.latencyMs,
          response_excerpt: attempt.responseExcerpt,
          error: attempt.error,
        })
        .execute();
      await tx
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          state: outcome.state,
          next_attempt_at: outcome.nextAttemptAt,
          ...(outcome.state === 'delivered' ? { delivered_at: attempt.at } : {}),
        }))
        .where('id', '=', deliveryId)
        .execute();
    });
  }

  async setDeliveryState(id: string, state: DeliveryState, nextAttemptAt: Date | null = null): Promise<void> {
    await this.db.updateTable('webhook_deliveries').set({ state, next_attempt_at: nextAttemptAt }).where('id', '=', id).execute();
  }
}
