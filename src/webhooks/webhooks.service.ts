import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type Caller, callerOwns } from '../access/caller';
import { ProblemError, problems } from '../common/problem';
import type { SecretBox } from '../common/secret-box';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { WebhookDeliveryDto, WebhookDto, WebhookWithSecretDto, type CreateWebhookDto } from './webhook.dto';
import { WebhookQueue } from './webhook-queue.service';
import { newWebhookSecret, sealWebhookSecret } from './webhook-secret';
import { WebhookTargets } from './webhook-targets.service';
import { WebhooksRepository } from './webhooks.repository';

const DELIVERY_PAGE = 100;

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

  /** The caller's own subscriptions (an admin's: every one). */
  async list(caller: Caller): Promise<WebhookDto[]> {
    return (await this.repository.list(caller.scopes.has('admin') ? undefined : caller.principal)).map((row) => WebhookDto.from(row));
  }

  /** Another caller's subscription answers as if it did not exist. */
  async get(id: string, caller: Caller): Promise<WebhookDto> {
    const row = await this.repository.find(id);
    if (!row || !callerOwns(caller, row.owner)) throw webhookProblems.notFound(id);
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

  async deliveries(id: string, caller: Caller): Promise<WebhookDeliveryDto[]> {
    await this.get(id, caller);
    const deliveries = await this.repository.deliveriesOf(id, DELIVERY_PAGE);
    const attempts = await this.repository.attemptsOf(deliveries.map((d) => d.id));
    return deliveries.map((d) =>
      WebhookDeliveryDto.from(
        d,
        attempts.filter((a) => a.delivery_id === d.id),
      ),
    );
  }

  /** Sends a delivery again with the same webhook-id and a fresh retry schedule. */
  async redeliver(id: string, deliveryId: string, caller: Caller): Promise<WebhookDeliveryDto> {
    await this.get(id, caller);
    const delivery = await this.repository.findDelivery(deliveryId);
    if (!delivery || delivery.webhook_id !== id) throw webhookProblems.deliveryNotFound(deliveryId);
    await this.repository.setDeliveryState(deliveryId, 'pending', new Date());
    try {
      await this.queue.requeue(deliveryId);
    } catch (error) {
      throw problems.queueUnavailable((error as Error).message);
    }
    const updated = (await this.repository.findDelivery(deliveryId))!;
    return WebhookDeliveryDto.from(updated, await this.repository.attemptsOf([deliveryId]));
  }
}
