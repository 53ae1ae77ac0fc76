import { Injectable } from '@nestjs/common';
import { type Caller, callerOwns } from '../access/caller';
import { problems } from '../common/problem';
import { WebhookDeliveryDto, WebhookDto, WebhookWithSecretDto, type CreateWebhookDto } from './webhook.dto';
import { WebhookQueue } from './webhook-queue.service';
import { newWebhookSecret } from './webhook-secret';
import { WebhookTargets } from './webhook-targets.service';
import { WebhooksRepository } from './webhooks.repository';

const DELIVERY_PAGE = 100;

export const webhookProblems = {
  deliveryNotFound: (id: string) => problems.notFound('Delivery', id),
  notFound: (id: string) => problems.notFound('Webhook', id),
};

/** Subscriptions: create (checking the target), list, show, delete, rotate the secret, deliveries and redelivery. */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly repository: WebhooksRepository,
    private readonly queue: WebhookQueue,
    private readonly targets: WebhookTargets,
  ) {}

  async create(request: CreateWebhookDto, caller: Caller): Promise<WebhookWithSecretDto> {
    await this.targets.assertAllowed(request.url);
    const secret = newWebhookSecret();
    const row = await this.repository.create({
      url: request.url,
      events: request.events,
      description: request.description ?? null,
      secret,
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
    await this.get(id, caller);
    const secret = newWebhookSecret();
    const row = await this.repository.rotateSecret(id, secret);
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
