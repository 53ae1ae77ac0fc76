import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { SecretBox } from '../common/secret-box';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { DatabaseService } from '../database/database.service';
import { sealedSecretCounts, sealSecretColumn } from '../database/sealed-secret-columns';
import { WEBHOOK_SECRET_COLUMN } from './webhook-secret';

/**
 * On start, every process with a key seals the subscription secrets still stored in plain text (rows
 * from before migration 0005) under the current key, then says how the secrets are kept: under older
 * keys (`npm run secrets:reseal` moves them to the current one), or under keys no longer configured
 * (their deliveries fail). Re-sealing under a new key is left to that command, so an operator decides
 * when it happens. A failure here is logged and the process starts anyway: plain-text secrets still work,
 * and the next start tries again.
 */
@Injectable()
export class WebhookSecretsAtStart implements OnApplicationBootstrap {
  private readonly logger = new Logger('webhooks');
  private readonly secretBox: SecretBox | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly database: DatabaseService,
  ) {
    this.secretBox = config.secretBox;
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.sealAndReport();
    } catch (error) {
      this.logger.error({ err: error }, 'sealing the webhook secrets stored in plain text failed; the next start tries again');
    }
  }

  async sealAndReport(): Promise<void> {
    const box = this.secretBox;
    if (box) {
      // Only rows in plain text are taken here, and those always seal: nothing is left unreadable.
      const { sealed } = await sealSecretColumn(this.database.db, box, WEBHOOK_SECRET_COLUMN, { reseal: false });
      if (sealed > 0) this.logger.log({ sealed, keyId: box.currentKeyId }, `sealed ${sealed} webhook secrets stored in plain text under key ${box.currentKeyId}`);
    }
    const { plainText, byKey } = await sealedSecretCounts(this.database.db, WEBHOOK_SECRET_COLUMN);
    if (plainText > 0 && !box) {
      this.logger.warn({ plainText }, `${plainText} webhook secrets are stored in plain text: set SECRET_ENCRYPTION_KEYS and they are sealed on the next start`);
    }
    const listed = (entries: [string, number][]) => entries.map(([keyId, n]) => `${keyId}: ${n}`).join(', ');
    const unknown = Object.entries(byKey).filter(([keyId]) => !box?.keyIds.includes(keyId));
    if (unknown.length > 0) {
      this.logger.error(
        { code: 'SECRET_ENCRYPTION_KEY_UNKNOWN', byKey: Object.fromEntries(unknown) },
        `webhook secrets are sealed under keys SECRET_ENCRYPTION_KEYS does not list (${listed(unknown)}): deliveries to those subscriptions fail until the key is listed again or their secrets are rotated`,
      );
    }
    if (!box) return;
    const older = Object.entries(byKey).filter(([keyId]) => keyId !== box.currentKeyId && box.keyIds.includes(keyId));
    if (older.length > 0) {
      this.logger.log(
        { byKey: Object.fromEntries(older), currentKeyId: box.currentKeyId },
        `webhook secrets sealed under older keys (${listed(older)}) still open; npm run secrets:reseal seals them under ${box.currentKeyId}, after which those keys can be removed`,
      );
    }
  }
}
