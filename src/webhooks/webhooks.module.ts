import { Global, Module } from '@nestjs/common';
import { WebhookDeliveryWorker } from './webhook-delivery.worker';
import { WebhookEvents } from './webhook-events.service';
import { WebhookQueue } from './webhook-queue.service';
import { WebhookSecretsAtStart } from './webhook-secrets-at-start';
import { WebhookTargets } from './webhook-targets.service';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/**
 * Records, the delivery queue and the event emitter: shared by every role (the pipeline workers emit).
 * Every role also seals subscription secrets left in plain text on start.
 */
@Global()
@Module({
  providers: [WebhooksRepository, WebhookQueue, WebhookEvents, WebhookTargets, WebhookSecretsAtStart],
  exports: [WebhooksRepository, WebhookQueue, WebhookEvents, WebhookTargets],
})
export class WebhooksModule {}

/** The subscriptions API (api role). */
@Module({ controllers: [WebhooksController], providers: [WebhooksService] })
export class WebhooksApiModule {}

/** The delivery worker (worker role). */
@Module({ providers: [WebhookDeliveryWorker] })
export class WebhooksWorkerModule {}
