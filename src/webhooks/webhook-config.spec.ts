import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/config.schema';

describe('webhook configuration', () => {
  const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;

  it('has defaults: no allowlist, no callback secret, a one-minute retry base, disabled after 10 failed deliveries in a row', () => {
    expect(loadConfig({}).webhooks).toEqual({
      allowlist: [],
      callbackSecret: undefined,
      retryBaseMs: 60_000,
      disableAfterFailures: 10,
      connectTimeoutMs: 5_000,
      responseTimeoutMs: 10_000,
    });
  });

  it('reads the failures that disable a subscription: 0 for never, no negative count', () => {
    expect(loadConfig({ WEBHOOK_DISABLE_AFTER_FAILURES: '0' }).webhooks.disableAfterFailures).toBe(0);
    expect(loadConfig({ WEBHOOK_DISABLE_AFTER_FAILURES: '3' }).webhooks.disableAfterFailures).toBe(3);
    expect(() => loadConfig({ WEBHOOK_DISABLE_AFTER_FAILURES: '-1' })).toThrow(/WEBHOOK_DISABLE_AFTER_FAILURES/);
  });

  it('reads the allowlist, the retry base and the callback secret, also from a file', () => {
    const file = join(tmpdir(), `webhook-secret-${process.pid}`);
    writeFileSync(file, `${secret}\n`);
    const config = loadConfig({ WEBHOOK_ALLOWLIST: '127.0.0.1, 10.0.0.0/8,hooks.internal', WEBHOOK_RETRY_BASE_MS: '200', WEBHOOK_CALLBACK_SECRET_FILE: file });
    expect(config.webhooks).toMatchObject({ allowlist: ['127.0.0.1', '10.0.0.0/8', 'hooks.internal'], retryBaseMs: 200, callbackSecret: secret });
  });

  it('names a bad allowlist entry and a malformed secret', () => {
    expect(() => loadConfig({ WEBHOOK_ALLOWLIST: '10.0.0.0/40' })).toThrow(/WEBHOOK_ALLOWLIST.*not a valid CIDR range/s);
    expect(() => loadConfig({ WEBHOOK_CALLBACK_SECRET: 'hunter2' })).toThrow(/WEBHOOK_CALLBACK_SECRET.*whsec_/s);
    expect(() => loadConfig({ WEBHOOK_CALLBACK_SECRET: `whsec_${Buffer.alloc(8).toString('base64')}` })).toThrow(/WEBHOOK_CALLBACK_SECRET/);
  });
});
