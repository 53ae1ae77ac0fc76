import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Authorize, CurrentCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
  ApiParam,
  ApiServiceUnavailableResponse,
} from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
import { ApiUuidParam } from '../openapi/path-params';
import { EXAMPLES } from '../openapi/examples';
import {
  CreateWebhookDto,
  EnabledWebhookDto,
  EnableWebhookQueryDto,
  ListWebhookDeliveriesQueryDto,
  ListWebhooksQueryDto,
  WebhookDeliveryDto,
  WebhookDeliveryPageDto,
  WebhookDto,
  WebhookPageDto,
  WebhookPayloadDto,
  WebhookWithSecretDto,
} from './webhook.dto';
import { type ListedPage, WebhooksService } from './webhooks.service';

const LINK_HEADER = { Link: { description: '`<next URL>; rel="next"` when there is a next page', schema: { type: 'string' } } };

/** The page, with its next page's URL also in a Link header (RFC 8288), as the other paged lists answer. */
function withLink<T>(page: ListedPage<T>, reply: FastifyReply): ListedPage<T> {
  if (page.next) void reply.header('link', `<${page.next}>; rel="next"`);
  return page;
}

@ApiTags('webhooks')
@ApiExtraModels(WebhookPayloadDto)
@Authorize('webhooks:manage')
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    summary: 'Subscribe to events',
    description:
      'Deliveries are JSON bodies (WebhookPayloadDto; VerificationEventDto for verifications answered at once) signed per Standard Webhooks with the secret returned here once (the service keeps it only encrypted, with SECRET_ENCRYPTION_KEYS): headers webhook-id (stable across retries), webhook-timestamp and webhook-signature. The URL must be public HTTPS unless WEBHOOK_ALLOWLIST names it.',
  })
  @ApiBody({
    type: CreateWebhookDto,
    examples: {
      jobs: { summary: 'Job outcomes, to the inbox of npm run dev', value: { url: EXAMPLES.webhookUrl, events: ['job.succeeded', 'job.failed'], description: 'CI' } },
      verifications: { summary: 'Every verification verdict', value: { url: EXAMPLES.webhookUrl, events: ['verification.succeeded', 'verification.failed'] } },
      forbidden: { summary: 'An internal address that WEBHOOK_ALLOWLIST does not name: 422', value: { url: 'http://10.0.0.1/hook', events: ['job.failed'] } },
    },
  })
  @ApiCreatedResponse({ type: WebhookWithSecretDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'code VALIDATION_FAILED (unknown event) or WEBHOOK_URL_INVALID' })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description:
      'code WEBHOOK_URL_FORBIDDEN (internal address or plain HTTP), WEBHOOK_URL_UNRESOLVABLE, or SECRET_ENCRYPTION_KEY_MISSING (no SECRET_ENCRYPTION_KEYS to encrypt the secret with)',
  })
  create(@Body() body: CreateWebhookDto, @CurrentCaller() caller: Caller): Promise<WebhookWithSecretDto> {
    return this.webhooks.create(body, caller);
  }

  @Get()
  @ApiOperation({
    summary: 'List subscriptions (without secrets; newest first, paged)',
    description: "The caller's own subscriptions (an admin's: every one). Follow `next` (or pass `nextCursor` as `cursor`) for the next page.",
  })
  @ApiOkResponse({ type: WebhookPageDto, headers: LINK_HEADER })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'VALIDATION_FAILED: the limit or the cursor is not valid' })
  async list(@Query() query: ListWebhooksQueryDto, @CurrentCaller() caller: Caller, @Res({ passthrough: true }) reply: FastifyReply): Promise<WebhookPageDto> {
    return withLink(await this.webhooks.list(query, caller), reply);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One subscription (without its secret)',
    description: 'Its URL, events, whether and why it is disabled and its count of failed deliveries in a row. Callers see their own subscriptions (admins every one).',
  })
  @ApiOkResponse({ type: WebhookDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  get(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<WebhookDto> {
    return this.webhooks.get(id, caller);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Unsubscribe; its deliveries are removed',
    description: 'No event is delivered to it from now on; pending attempts are dropped. The audit log records who did it (action Webhooks_delete).',
  })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  async delete(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.webhooks.delete(id, caller);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Replace the signing secret; the new one is returned once and signs every later attempt',
    description: 'Retries of earlier deliveries are signed with the new secret too. The service keeps the secret only encrypted (SECRET_ENCRYPTION_KEYS).',
  })
  @ApiOkResponse({ type: WebhookWithSecretDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'code SECRET_ENCRYPTION_KEY_MISSING (no SECRET_ENCRYPTION_KEYS to encrypt the secret with)' })
  @ApiUuidParam()
  rotateSecret(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<WebhookWithSecretDto> {
    return this.webhooks.rotateSecret(id, caller);
  }

  @Post(':id/enable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Turn a subscription back on',
    description:
      'Clears `disabledAt` and `disabledReason` (a 410 Gone, WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row, or POST …/disable) and resets `consecutiveFailures`; events from now on are delivered, signed with the same secret. Events that happened while it was disabled were not recorded for it. With `redeliverFailed=true`, the deliveries that failed or were abandoned since the receiver last took one are sent again (same webhook-id, a fresh retry schedule) and listed in `redelivered`. Enabling an enabled subscription changes nothing but the failure count. The target is checked again, as on create. The audit log records who did it (action Webhooks_enable).',
  })
  @ApiOkResponse({ type: EnabledWebhookDto })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'code VALIDATION_FAILED (redeliverFailed is neither true nor false)' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND (also for another caller’s subscription)' })
  @ApiUnprocessableEntityResponse({
    type: ProblemDto,
    description: 'code WEBHOOK_URL_FORBIDDEN or WEBHOOK_URL_UNRESOLVABLE: the target is no longer allowed (WEBHOOK_ALLOWLIST changed) or does not resolve',
  })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'code QUEUE_UNAVAILABLE: redeliverFailed could not reach the delivery queue (Redis)' })
  @ApiUuidParam()
  enable(@Param('id') id: string, @Query() query: EnableWebhookQueryDto, @CurrentCaller() caller: Caller): Promise<EnabledWebhookDto> {
    return this.webhooks.enable(id, query.redeliverFailed === 'true', caller);
  }

  @Post(':id/disable')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Pause a subscription',
    description:
      'Sets `disabledAt`, with the caller as `disabledReason`: no delivery is recorded for it from now on, and its pending deliveries are abandoned at their next attempt. A subscription already disabled keeps its first reason. POST …/enable turns it back on.',
  })
  @ApiOkResponse({ type: WebhookDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND (also for another caller’s subscription)' })
  @ApiUuidParam()
  disable(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<WebhookDto> {
    return this.webhooks.disable(id, caller);
  }

  @Get(':id/deliveries')
  @ApiOperation({
    summary: 'Deliveries of a subscription (newest first, paged), each with its attempts',
    description:
      'Ordered by creation time, then webhook-id. Filters combine with AND. Follow `next` (or pass `nextCursor` as `cursor` with the same filters) for the next page; only a cursor this service issued is taken.',
  })
  @ApiOkResponse({ type: WebhookDeliveryPageDto, headers: LINK_HEADER })
  @ApiBadRequestResponse({ type: ProblemDto, description: 'code VALIDATION_FAILED: a filter, the limit or the cursor is not valid' })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  async deliveries(
    @Param('id') id: string,
    @Query() query: ListWebhookDeliveriesQueryDto,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookDeliveryPageDto> {
    return withLink(await this.webhooks.deliveries(id, query, caller), reply);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Send a delivery again: same webhook-id, a fresh retry schedule',
    description: 'Typically one that failed or was abandoned; the receiver can deduplicate by webhook-id. Its attempts so far stay listed.',
  })
  @ApiAcceptedResponse({ type: WebhookDeliveryDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND or DELIVERY_NOT_FOUND' })
  @ApiServiceUnavailableResponse({ type: ProblemDto, description: 'code QUEUE_UNAVAILABLE: the delivery queue (Redis) cannot be reached' })
  @ApiUuidParam()
  @ApiParam({ name: 'deliveryId', schema: { type: 'string', maxLength: 64 }, description: 'The `webhook-id` of the delivery' })
  redeliver(@Param('id') id: string, @Param('deliveryId') deliveryId: string, @CurrentCaller() caller: Caller): Promise<WebhookDeliveryDto> {
    return this.webhooks.redeliver(id, deliveryId, caller);
  }
}
