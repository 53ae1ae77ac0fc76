import { WebhookAllowlist } from '../common/address-policy';
import { resolveWebhookTarget, type Resolver } from './webhook-target';

const resolvesTo =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
const none = new WebhookAllowlist([]);

describe('resolveWebhookTarget', () => {
  it('accepts public HTTPS and pins the resolved address', async () => {
    const target = await resolveWebhookTarget('https://hooks.example.com/x', none, resolvesTo('93.184.216.34', '2606:2800:220:1::1'));
    expect(target).toMatchObject({ address: '93.184.216.34', family: 4 });
    expect(target.url.hostname).toBe('hooks.example.com');
  });

  it.each([
    ['not a url', 'WEBHOOK_URL_INVALID'],
    ['ftp://example.com/x', 'WEBHOOK_URL_INVALID'],
    ['https://user:pw@example.com/x', 'WEBHOOK_URL_INVALID'],
    ['http://10.0.0.1/hook', 'WEBHOOK_URL_FORBIDDEN'],
    ['https://[::1]/hook', 'WEBHOOK_URL_FORBIDDEN'],
    ['https://169.254.169.254/latest/meta-data', 'WEBHOOK_URL_FORBIDDEN'],
  ])('refuses %s with %s', async (url, code) => {
    await expect(resolveWebhookTarget(url, none, resolvesTo('93.184.216.34'))).rejects.toMatchObject({ code });
  });

  it('refuses a host when any of its addresses is internal', async () => {
    await expect(resolveWebhookTarget('https://mixed.example.com/', none, resolvesTo('93.184.216.34', '10.0.0.5'))).rejects.toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN' });
  });

  it('refuses plain HTTP to a public host', async () => {
    await expect(resolveWebhookTarget('http://hooks.example.com/', none, resolvesTo('93.184.216.34'))).rejects.toMatchObject({
      code: 'WEBHOOK_URL_FORBIDDEN',
      message: expect.stringContaining('https'),
    });
  });

  it('reports a host that does not resolve', async () => {
    const failing: Resolver = async () => {
      throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    };
    await expect(resolveWebhookTarget('https://nowhere.example/', none, failing)).rejects.toMatchObject({ code: 'WEBHOOK_URL_UNRESOLVABLE' });
  });

  it('lets allowlisted addresses and hosts through, over HTTP too', async () => {
    const allowlist = new WebhookAllowlist(['127.0.0.1', 'hooks.internal']);
    await expect(resolveWebhookTarget('http://127.0.0.1:8080/hook', allowlist)).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(resolveWebhookTarget('http://hooks.internal/', allowlist, resolvesTo('10.1.1.1'))).resolves.toMatchObject({ address: '10.1.1.1' });
    await expect(resolveWebhookTarget('http://10.0.0.1/hook', allowlist)).rejects.toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN' });
    await expect(resolveWebhookTarget('http://other.internal/', allowlist, resolvesTo('127.0.0.1'))).resolves.toMatchObject({ address: '127.0.0.1' });
  });
});
