import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
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
} from '@nestjs/swagger';
import { ProblemDto } from '../common/problem.dto';
import { ApiUuidParam } from '../openapi/path-params';
import { EXAMPLES } from '../openapi/examples';
import { CreateWebhookDto, WebhookDeliveryDto, WebhookDto, WebhookPayloadDto, WebhookWithSecretDto } from './webhook.dto';
import { WebhooksService } from './webhooks.service';

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
  @ApiOperation({ summary: 'List subscriptions (without secrets)' })
  @ApiOkResponse({ type: [WebhookDto] })
  list(@CurrentCaller() caller: Caller): Promise<WebhookDto[]> {
    return this.webhooks.list(caller);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One subscription (without its secret)' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  get(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<WebhookDto> {
    return this.webhooks.get(id, caller);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unsubscribe; its deliveries are removed' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  async delete(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.webhooks.delete(id, caller);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replace the signing secret; the new one is returned once and signs every later attempt' })
  @ApiOkResponse({ type: WebhookWithSecretDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'code SECRET_ENCRYPTION_KEY_MISSING (no SECRET_ENCRYPTION_KEYS to encrypt the secret with)' })
  @ApiUuidParam()
  rotateSecret(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<WebhookWithSecretDto> {
    return this.webhooks.rotateSecret(id, caller);
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'The latest 100 deliveries, newest first, each with its attempts' })
  @ApiOkResponse({ type: [WebhookDeliveryDto] })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  deliveries(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<WebhookDeliveryDto[]> {
    return this.webhooks.deliveries(id, caller);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a delivery again: same webhook-id, a fresh retry schedule' })
  @ApiAcceptedResponse({ type: WebhookDeliveryDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND or DELIVERY_NOT_FOUND' })
  @ApiUuidParam()
  @ApiParam({ name: 'deliveryId', schema: { type: 'string', maxLength: 64 }, description: 'The `webhook-id` of the delivery' })
  redeliver(@Param('id') id: string, @Param('deliveryId') deliveryId: string, @CurrentCaller() caller: Caller): Promise<WebhookDeliveryDto> {
    return this.webhooks.redeliver(id, deliveryId, caller);
  }
}
