import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ProblemError } from '../common/problem';
import { WebhookAllowlist } from '../common/address-policy';
import { CallbackUrlPolicy } from '../pipeline/callback-url-policy';
import { WebhookTargetError, resolveWebhookTarget } from './webhook-target';

/**
 * Where notifications may go, checked when a URL is given (a subscription, or a job's callbackUrl) and
 * again before every delivery: resolved, and refused when it points inside the network unless
 * WEBHOOK_ALLOWLIST allows it.
 */
@Injectable()
export class WebhookTargets implements OnModuleInit {
  readonly allowlist: WebhookAllowlist;
  private readonly callbackSecretSet: boolean;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly callbackPolicy: CallbackUrlPolicy,
  ) {
    this.allowlist = new WebhookAllowlist(config.webhooks.allowlist);
    this.callbackSecretSet = config.webhooks.callbackSecret !== undefined;
  }

  /** Callback URLs of jobs are checked here: registered as the engine's callback URL policy. */
  onModuleInit(): void {
    this.callbackPolicy.register((url) => this.assertCallbackAllowed(url));
  }

  /**
   * Resolves when a job's `callbackUrl` can be notified: deliveries to it are signed with
   * WEBHOOK_CALLBACK_SECRET, so without that secret the URL is refused rather than accepted and never called.
   */
  async assertCallbackAllowed(url: string): Promise<void> {
    if (!this.callbackSecretSet) throw callbackSecretMissing();
    await this.assertAllowed(url, 'callbackUrl');
  }

  /** Resolves when `url` may be notified; else a 400 (not a URL) or 422 (forbidden, unresolvable) problem. */
  async assertAllowed(url: string, field = 'url'): Promise<void> {
    try {
      await resolveWebhookTarget(url, this.allowlist);
    } catch (error) {
      if (error instanceof WebhookTargetError) throw targetProblem(error, field);
      throw error;
    }
  }
}

export function targetProblem(error: WebhookTargetError, field = 'url'): ProblemError {
  const invalid = error.code === 'WEBHOOK_URL_INVALID';
  return new ProblemError(invalid ? 400 : 422, error.code, invalid ? 'The webhook URL is not valid' : 'The webhook URL may not be used', `${field}: ${error.message}`);
}

export const callbackSecretMissing = () =>
  new ProblemError(
    422,
    'CALLBACK_SECRET_MISSING',
    'Callback URLs are not enabled',
    'callbackUrl: this service has no WEBHOOK_CALLBACK_SECRET to sign callbacks with; set WEBHOOK_CALLBACK_SECRET, or subscribe to events with POST /v1/webhooks instead',
  );
