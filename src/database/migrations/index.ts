import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial';
import * as webhooks from './0002-webhooks';
import * as verifications from './0003-verifications';
import * as accessControl from './0004-access-control';
import * as sealedWebhookSecrets from './0005-sealed-webhook-secrets';
import * as auditLog from './0006-audit-log';
import * as builds from './0007-builds';
import * as jobEnqueuedAt from './0008-job-enqueued-at';
import * as webhookFailures from './0009-webhook-failures';
import * as stepHeartbeat from './0010-step-heartbeat';

/**
 * The migrations, in order. Listed in code rather than read from a folder so that the compiled
 * service, the migrate command and the tests all run exactly the same set.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-webhooks': webhooks,
  '0003-verifications': verifications,
  '0004-access-control': accessControl,
  '0005-sealed-webhook-secrets': sealedWebhookSecrets,
  '0006-audit-log': auditLog,
  '0007-builds': builds,
  '0008-job-enqueued-at': jobEnqueuedAt,
  '0009-webhook-failures': webhookFailures,
  '0010-step-heartbeat': stepHeartbeat,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
