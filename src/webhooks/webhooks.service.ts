import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ProblemError, problems } from '../common/problem';
import { WebhookAllowlist } from './address-policy';
import { WebhookDeliveryDto, WebhookDto, WebhookWithSecretDto, type CreateWebhookDto } from './webhook.dto';
import { WebhookQueue } from './webhook-queue.service';
import { newWebhookSecret } from './webhook-secret';
import { resolveWebhookTarget, WebhookTargetError } from './webhook-target';
import { WebhooksRepository } from './webhooks.repository';

const DELIVERY_PAGE = 100;

export const webhookProblems = {
  target: (error: WebhookTargetError) =>
    new ProblemError(error.code === 'WEBHOOK_URL_INVALID' ? 400 : 422, error.code, error.code === 'WEBHOOK_URL_INVALID' ? 'The webhook URL is not valid' : 'The webhook URL may not be used', error.message),
  deliveryNotFound: (id: string) => problems.notFound('Delivery', id),
  notFound: (id: string) => problems.notFound('Webhook', id),
};

/** Subscriptions: create (checking the target), list, show, delete, rotate the secret, deliveries and redelivery. */
@Injectable()
export class WebhooksService {
  private readonly allowlist: WebhookAllowlist;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: WebhooksRepository,
    private readonly queue: WebhookQueue,
  ) {
    this.allowlist = new WebhookAllowlist(config.webhooks.allowlist);
  }

  async create(request: CreateWebhookDto): Promise<WebhookWithSecretDto> {
    try {
      await resolveWebhookTarget(request.url, this.allowlist);
    } catch (error) {
      if (error instanceof WebhookTargetError) throw webhookProblems.target(error);
      throw error;
    }
    const secret = newWebhookSecret();
    const row = await this.repository.create({ url: request.url, events: request.events, description: request.description ?? null, secret });
    return { ...WebhookDto.from(row), secret };
  }

  async list(): Promise<WebhookDto[]> {
    return (await this.repository.list()).map((row) => WebhookDto.from(row));
  }

  async get(id: string): Promise<WebhookDto> {
    const row = await this.repository.find(id);
    if (!row) throw webhookProblems.notFound(id);
    return WebhookDto.from(row);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.repository.delete(id))) throw webhookProblems.notFound(id);
  }

  async rotateSecret(id: string): Promise<WebhookWithSecretDto> {
    const secret = newWebhookSecret();
    const row = await this.repository.rotateSecret(id, secret);
    if (!row) throw webhookProblems.notFound(id);
    return { ...WebhookDto.from(row), secret };
  }

  async deliveries(id: string): Promise<WebhookDeliveryDto[]> {
    await this.get(id);
    const deliveries = await this.repository.deliveriesOf(id, DELIVERY_PAGE);
    const attempts = await this.repository.attemptsOf(deliveries.map((d) => d.id));
    return deliveries.map((d) => WebhookDeliveryDto.from(d, attempts.filter((a) => a.delivery_id === d.id)));
  }

  /** Sends a delivery again with the same webhook-id and a fresh retry schedule. */
  async redeliver(id: string, deliveryId: string): Promise<WebhookDeliveryDto> {
    await this.get(id);
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
