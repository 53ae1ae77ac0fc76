import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
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
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    summary: 'Subscribe to events',
    description:
      'Deliveries are JSON bodies (WebhookPayloadDto; VerificationEventDto for verifications answered at once) signed per Standard Webhooks with the secret returned here once: headers webhook-id (stable across retries), webhook-timestamp and webhook-signature. The URL must be public HTTPS unless WEBHOOK_ALLOWLIST names it.',
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
  @ApiUnprocessableEntityResponse({ type: ProblemDto, description: 'code WEBHOOK_URL_FORBIDDEN (internal address or plain HTTP) or WEBHOOK_URL_UNRESOLVABLE' })
  create(@Body() body: CreateWebhookDto): Promise<WebhookWithSecretDto> {
    return this.webhooks.create(body);
  }

  @Get()
  @ApiOperation({ summary: 'List subscriptions (without secrets)' })
  @ApiOkResponse({ type: [WebhookDto] })
  list(): Promise<WebhookDto[]> {
    return this.webhooks.list();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One subscription (without its secret)' })
  @ApiOkResponse({ type: WebhookDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  get(@Param('id') id: string): Promise<WebhookDto> {
    return this.webhooks.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unsubscribe; its deliveries are removed' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  async delete(@Param('id') id: string): Promise<void> {
    await this.webhooks.delete(id);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replace the signing secret; the new one is returned once and signs every later attempt' })
  @ApiOkResponse({ type: WebhookWithSecretDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  rotateSecret(@Param('id') id: string): Promise<WebhookWithSecretDto> {
    return this.webhooks.rotateSecret(id);
  }

  @Get(':id/deliveries')
  @ApiOperation({ summary: 'The latest 100 deliveries, newest first, each with its attempts' })
  @ApiOkResponse({ type: [WebhookDeliveryDto] })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND' })
  @ApiUuidParam()
  deliveries(@Param('id') id: string): Promise<WebhookDeliveryDto[]> {
    return this.webhooks.deliveries(id);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a delivery again: same webhook-id, a fresh retry schedule' })
  @ApiAcceptedResponse({ type: WebhookDeliveryDto })
  @ApiNotFoundResponse({ type: ProblemDto, description: 'code WEBHOOK_NOT_FOUND or DELIVERY_NOT_FOUND' })
  @ApiUuidParam()
  @ApiParam({ name: 'deliveryId', schema: { type: 'string', maxLength: 64 }, description: 'The `webhook-id` of the delivery' })
  redeliver(@Param('id') id: string, @Param('deliveryId') deliveryId: string): Promise<WebhookDeliveryDto> {
    return this.webhooks.redeliver(id, deliveryId);
  }
}
