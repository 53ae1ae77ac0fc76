import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type Caller, callerOwns } from '../access/caller';
import { ProblemError, problems } from '../common/problem';
import type { SecretBox } from '../common/secret-box';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { decodePageCursor, encodePageCursor, type PageCursor } from '../database/page-cursor';
import {
  DEFAULT_WEBHOOK_PAGE_SIZE,
  EnabledWebhookDto,
  MAX_REDELIVERED_ON_ENABLE,
  WebhookDeliveryDto,
  WebhookDto,
  WebhookWithSecretDto,
  type CreateWebhookDto,
  type ListWebhookDeliveriesQueryDto,
  type ListWebhooksQueryDto,
} from './webhook.dto';
import type { AttemptRow, DeliveryRow, WebhookRow } from './webhook-tables';
import { WebhookQueue } from './webhook-queue.service';
import { newWebhookSecret, sealWebhookSecret } from './webhook-secret';
import { WebhookTargets } from './webhook-targets.service';
import { type Page, WebhooksRepository } from './webhooks.repository';

/** A webhook-id as this service makes them (`msg_` and base64url), or as a cursor may name one. */
const DELIVERY_ID = /^msg_[A-Za-z0-9_-]{1,60}$/;

/** The position a `cursor` query parameter names; 400 VALIDATION_FAILED when it is not one this service issued. */
function cursorOf(text: string | undefined, isId?: (id: string) => boolean): PageCursor | undefined {
  if (text === undefined) return undefined;
  const cursor = decodePageCursor(text, isId);
  if (!cursor) throw problems.validation([{ field: 'cursor', message: 'is not a cursor this service issued' }]);
  return cursor;
}

/** A page of rows as the API answers it: the items, the next cursor and the next page's URL. */
export interface ListedPage<T> {
  items: T[];
  nextCursor: string | null;
  next: string | null;
}

function listed<R, T>(page: Page<R>, map: (row: R) => T, path: string, params: Record<string, string | number | undefined>): ListedPage<T> {
  const nextCursor = page.next ? encodePageCursor(page.next) : null;
  let next: string | null = null;
  if (nextCursor) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, String(value));
    query.set('cursor', nextCursor);
    next = `${path}?${query.toString()}`;
  }
  return { items: page.rows.map(map), nextCursor, next };
}

export const webhookProblems = {
  deliveryNotFound: (id: string) => problems.notFound('Delivery', id),
  notFound: (id: string) => problems.notFound('Webhook', id),
  secretEncryptionKeyMissing: () =>
    new ProblemError(
      422,
      'SECRET_ENCRYPTION_KEY_MISSING',
      'Subscription secrets cannot be stored',
      'this service has no SECRET_ENCRYPTION_KEYS to encrypt subscription secrets with, and does not store them in plain text; set SECRET_ENCRYPTION_KEYS',
    ),
};

/**
 * Subscriptions: create (checking the target), list, show, delete, rotate the secret, deliveries and
 * redelivery. A secret is returned once and stored only sealed (SECRET_ENCRYPTION_KEYS), bound to its
 * subscription's id: without a key, creating and rotating are refused.
 */
@Injectable()
export class WebhooksService {
  private readonly secretBox: SecretBox | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: WebhooksRepository,
    private readonly queue: WebhookQueue,
    private readonly targets: WebhookTargets,
  ) {
    this.secretBox = config.secretBox;
  }

  private requireSecretBox(): SecretBox {
    if (!this.secretBox) throw webhookProblems.secretEncryptionKeyMissing();
    return this.secretBox;
  }

  async create(request: CreateWebhookDto, caller: Caller): Promise<WebhookWithSecretDto> {
    const box = this.requireSecretBox();
    await this.targets.assertAllowed(request.url);
    // The id is chosen here, not by the database, because the sealed secret is bound to it.
    const id = randomUUID();
    const secret = newWebhookSecret();
    const row = await this.repository.create({
      id,
      url: request.url,
      events: request.events,
      description: request.description ?? null,
      sealedSecret: sealWebhookSecret(box, id, secret),
      owner: caller.principal,
      receivesAllCallers: caller.scopes.has('admin'),
    });
    return { ...WebhookDto.from(row), secret };
  }

  /** A page of the caller's own subscriptions (an admin's: every one), newest first. */
  async list(query: ListWebhooksQueryDto, caller: Caller): Promise<ListedPage<WebhookDto>> {
    const after = cursorOf(query.cursor);
    const limit = query.limit ?? DEFAULT_WEBHOOK_PAGE_SIZE;
    const page = await this.repository.list(caller.scopes.has('admin') ? undefined : caller.principal, limit, after);
    return listed(page, (row) => WebhookDto.from(row), '/v1/webhooks', { limit });
  }

  /** Another caller's subscription answers as if it did not exist. */
  async get(id: string, caller: Caller): Promise<WebhookDto> {
    return WebhookDto.from(await this.owned(id, caller));
  }

  private async owned(id: string, caller: Caller): Promise<WebhookRow> {
    const row = await this.repository.find(id);
    if (!row || !callerOwns(caller, row.owner)) throw webhookProblems.notFound(id);
    return row;
  }

  /**
   * Turns a subscription back on (whatever stopped it) and clears its count of failed deliveries; with
   * `redeliverFailed`, sends again the deliveries that failed since the receiver last took one. The
   * target is checked again first, as on create (WEBHOOK_ALLOWLIST may have changed since).
   */
  async enable(id: string, redeliverFailed: boolean, caller: Caller): Promise<EnabledWebhookDto> {
    const current = await this.owned(id, caller);
    await this.targets.assertAllowed(current.url);
    const row = await this.repository.enable(current.id);
    if (!row) throw webhookProblems.notFound(id);
    const redelivered: string[] = [];
    if (redeliverFailed) {
      for (const { id: deliveryId } of await this.repository.failedSinceLastDelivered(row.id, MAX_REDELIVERED_ON_ENABLE)) {
        await this.requeue(deliveryId);
        redelivered.push(deliveryId);
      }
    }
    return { ...WebhookDto.from(row), redelivered };
  }

  /** Stops deliveries to a subscription until it is enabled again; the caller is named as the reason. */
  async disable(id: string, caller: Caller): Promise<WebhookDto> {
    const current = await this.owned(id, caller);
    const row = await this.repository.pause(current.id, `disabled by ${caller.principal} at ${new Date().toISOString()}`);
    if (!row) throw webhookProblems.notFound(id);
    return WebhookDto.from(row);
  }

  async delete(id: string, caller: Caller): Promise<void> {
    await this.get(id, caller);
    if (!(await this.repository.delete(id))) throw webhookProblems.notFound(id);
  }

  async rotateSecret(id: string, caller: Caller): Promise<WebhookWithSecretDto> {
    const box = this.requireSecretBox();
    // Sealed for the id as the database spells it (the path may give it in upper case).
    const current = await this.repository.find(id);
    if (!current || !callerOwns(caller, current.owner)) throw webhookProblems.notFound(id);
    const secret = newWebhookSecret();
    const row = await this.repository.rotateSecret(current.id, sealWebhookSecret(box, current.id, secret));
    if (!row) throw webhookProblems.notFound(id);
    return { ...WebhookDto.from(row), secret };
  }

  /** A page of a subscription's deliveries, newest first, each with its attempts. */
  async deliveries(id: string, query: ListWebhookDeliveriesQueryDto, caller: Caller): Promise<ListedPage<WebhookDeliveryDto>> {
    const after = cursorOf(query.cursor, (deliveryId) => DELIVERY_ID.test(deliveryId));
    const subscription = await this.owned(id, caller);
    const limit = query.limit ?? DEFAULT_WEBHOOK_PAGE_SIZE;
    const page = await this.repository.deliveriesOf(subscription.id, { state: query.state, event: query.event }, limit, after);
    const attempts = attemptsByDelivery(await this.repository.attemptsOf(page.rows.map((d) => d.id)));
    return listed(page, (d: DeliveryRow) => WebhookDeliveryDto.from(d, attempts.get(d.id) ?? []), `/v1/webhooks/${subscription.id}/deliveries`, {
      state: query.state,
      event: query.event,
      limit,
    });
  }

  /** Sends a delivery again with the same webhook-id and a fresh retry schedule. */
  async redeliver(id: string, deliveryId: string, caller: Caller): Promise<WebhookDeliveryDto> {
    const subscription = await this.owned(id, caller);
    const delivery = await this.repository.findDelivery(deliveryId);
    if (!delivery || delivery.webhook_id !== subscription.id) throw webhookProblems.deliveryNotFound(deliveryId);
    await this.requeue(deliveryId);
    const updated = (await this.repository.findDelivery(deliveryId))!;
    return WebhookDeliveryDto.from(updated, await this.repository.attemptsOf([deliveryId]));
  }

  private async requeue(deliveryId: string): Promise<void> {
    await this.repository.setDeliveryState(deliveryId, 'pending', new Date());
    try {
      await this.queue.requeue(deliveryId);
    } catch (error) {
      throw problems.queueUnavailable((error as Error).message);
    }
  }
}

function attemptsByDelivery(attempts: AttemptRow[]): Map<string, AttemptRow[]> {
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const attempt of attempts) {
    const list = byDelivery.get(attempt.delivery_id);
    if (list) list.push(attempt);
    else byDelivery.set(attempt.delivery_id, [attempt]);
  }
  return byDelivery;
}
