import { randomBytes } from 'node:crypto';
import { openStoredSecret, type SecretBox } from '../common/secret-box';
import type { SealedSecretColumn } from '../database/sealed-secret-columns';

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** Where subscription secrets are kept, sealed; each is bound to its subscription's id. */
export const WEBHOOK_SECRET_COLUMN: SealedSecretColumn = {
  table: 'webhooks',
  column: 'sealed_secret',
  context: (webhookId) => `webhooks.sealed_secret:${webhookId}`,
};

/** Seals a subscription's secret for its row. */
export const sealWebhookSecret = (box: SecretBox, webhookId: string, secret: string): string => box.seal(secret, WEBHOOK_SECRET_COLUMN.context(webhookId));

/** The secret of a subscription row; a SecretBoxError when it cannot be opened (its key is not configured, or it was altered). */
export const openWebhookSecret = (box: SecretBox | undefined, row: { id: string; sealed_secret: string }): string =>
  openStoredSecret(box, row.sealed_secret, WEBHOOK_SECRET_COLUMN.context(row.id));
