import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { INTERNAL_ADDRESS_KINDS, refusedAddress, type WebhookAllowlist } from '../common/address-policy';

export type WebhookTargetErrorCode = 'WEBHOOK_URL_INVALID' | 'WEBHOOK_URL_FORBIDDEN' | 'WEBHOOK_URL_UNRESOLVABLE';

export class WebhookTargetError extends Error {
  constructor(
    readonly code: WebhookTargetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookTargetError';
  }
}

/** A checked webhook target: the URL and the address to connect to (pinned, so DNS cannot change it afterwards). */
export interface WebhookTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * Parses and checks a webhook URL: http(s) only, no credentials, every address the host resolves to
 * public (or allowlisted), HTTPS unless allowlisted. Returns the first checked address to connect to.
 */
export async function resolveWebhookTarget(raw: string, allowlist: WebhookAllowlist, resolver: Resolver = systemResolver): Promise<WebhookTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new WebhookTargetError('WEBHOOK_URL_INVALID', `scheme ${url.protocol} is not http or https`);
  if (url.username || url.password) throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'credentials in the URL are not allowed');
  if (url.hash) throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'a fragment is not allowed');
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  if (!hostname) throw new WebhookTargetError('WEBHOOK_URL_INVALID', 'no host');

  let addresses: { address: string; family: number }[];
  if (isIP(hostname)) {
    addresses = [{ address: hostname, family: isIP(hostname) }];
  } else {
    try {
      addresses = await resolver(hostname);
    } catch (error) {
      throw new WebhookTargetError('WEBHOOK_URL_UNRESOLVABLE', `${hostname} does not resolve: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    if (addresses.length === 0) throw new WebhookTargetError('WEBHOOK_URL_UNRESOLVABLE', `${hostname} has no addresses`);
  }

  const hostAllowed = allowlist.allowsHost(hostname);
  const allAllowed = hostAllowed || addresses.every((a) => allowlist.allowsAddress(a.address));
  const refused = refusedAddress(
    hostname,
    addresses.map((a) => a.address),
    allowlist,
  );
  if (refused) {
    throw new WebhookTargetError('WEBHOOK_URL_FORBIDDEN', `${hostname} resolves to ${refused}, an internal address (${INTERNAL_ADDRESS_KINDS}); allow it with WEBHOOK_ALLOWLIST`);
  }
  if (url.protocol !== 'https:' && !allAllowed) throw new WebhookTargetError('WEBHOOK_URL_FORBIDDEN', 'webhook URLs must use https unless the host is in WEBHOOK_ALLOWLIST');
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
