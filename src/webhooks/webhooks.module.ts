import { Global, Module } from '@nestjs/common';
import { WebhookDeliveryWorker } from './webhook-delivery.worker';
import { WebhookEvents } from './webhook-events.service';
import { WebhookQueue } from './webhook-queue.service';
import { WebhookTargets } from './webhook-targets.service';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Records, the delivery queue and the event emitter: shared by every role (the pipeline workers emit). */
@Global()
@Module({
  providers: [WebhooksRepository, WebhookQueue, WebhookEvents, WebhookTargets],
  exports: [WebhooksRepository, WebhookQueue, WebhookEvents, WebhookTargets],
})
export class WebhooksModule {}

/** The subscriptions API (api role). */
@Module({ controllers: [WebhooksController], providers: [WebhooksService] })
export class WebhooksApiModule {}

/** The delivery worker (worker role). */
@Module({ providers: [WebhookDeliveryWorker] })
export class WebhooksWorkerModule {}
