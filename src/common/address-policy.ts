import { BlockList, isIP } from 'node:net';

/**
 * Which addresses the service may connect to on a caller's behalf (webhooks, registries). Internal
 * addresses (loopback, private, link-local, CGNAT, unspecified, multicast, reserved, cloud metadata) are
 * refused unless an allowlist (WEBHOOK_ALLOWLIST, REGISTRY_PRIVATE_ALLOWLIST) names the host or a range
 * holding the address. Callers check the addresses a name resolved to, and connect to those.
 */
const INTERNAL_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network", including the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT; also Alibaba Cloud's metadata service 100.100.100.200
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local; AWS, GCP, Azure and OCI metadata at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, including broadcast
];
const INTERNAL_V6: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local; AWS metadata over IPv6 is fd00:ec2::254
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['2001:db8::', 32], // documentation
  ['100::', 64], // discard-only
];

const internal = new BlockList();
for (const [address, prefix] of INTERNAL_V4) internal.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of INTERNAL_V6) internal.addSubnet(address, prefix, 'ipv6');

export type AddressFamily = 'ipv4' | 'ipv6';

/** The IPv4 address carried in an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address. */
export function embeddedIpv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const words = expandIpv6(address);
  const prefixZero = words.slice(0, 5).every((w) => w === 0);
  const mapped = prefixZero && words[5] === 0xffff;
  const compatible = prefixZero && words[5] === 0 && (words[6] !== 0 || words[7] > 1);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0);
  if (!mapped && !compatible && !nat64) return undefined;
  return [words[6] >> 8, words[6] & 0xff, words[7] >> 8, words[7] & 0xff].join('.');
}

/** The eight 16-bit words of an IPv6 address (which may end in dotted IPv4). */
function expandIpv6(address: string): number[] {
  let text = address.split('%')[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((w) => parseInt(w, 16));
}

/** True for addresses that must not be reached without an allowlist entry. */
export function isInternalAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 0) throw new Error(`${address} is not an IP address`);
  if (version === 4) return internal.check(address, 'ipv4');
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined && internal.check(v4, 'ipv4')) return true;
  return internal.check(address.split('%')[0]!, 'ipv6');
}

/**
 * An allowlist of internal destinations: host names (exact, case-insensitive), addresses and CIDR
 * ranges. `variable` names the setting it comes from, for messages.
 */
export class AddressAllowlist {
  private readonly hosts = new Set<string>();
  private readonly ranges = new BlockList();

  constructor(
    entries: readonly string[],
    readonly variable: string,
  ) {
    for (const raw of entries) {
      const entry = raw
        .trim()
        .toLowerCase()
        .replace(/^\[|\]$/g, '');
      if (!entry) continue;
      const slash = entry.indexOf('/');
      if (slash >= 0) {
        const address = entry.slice(0, slash);
        const prefix = Number(entry.slice(slash + 1));
        const version = isIP(address);
        const max = version === 4 ? 32 : 128;
        if (version === 0 || !/^\d+$/.test(entry.slice(slash + 1)) || prefix > max) throw new Error(`${variable} entry ${raw} is not a valid CIDR range`);
        this.ranges.addSubnet(address, prefix, version === 4 ? 'ipv4' : 'ipv6');
      } else if (isIP(entry)) {
        this.ranges.addAddress(entry, isIP(entry) === 4 ? 'ipv4' : 'ipv6');
      } else {
        this.hosts.add(entry.replace(/\.$/, ''));
      }
    }
  }

  allowsHost(hostname: string): boolean {
    return this.hosts.has(
      hostname
        .toLowerCase()
        .replace(/^\[|\]$/g, '')
        .replace(/\.$/, ''),
    );
  }

  allowsAddress(address: string): boolean {
    const version = isIP(address);
    if (version === 0) return false;
    if (version === 4) return this.ranges.check(address, 'ipv4');
    const v4 = embeddedIpv4(address);
    return this.ranges.check(address.split('%')[0]!, 'ipv6') || (v4 !== undefined && this.ranges.check(v4, 'ipv4'));
  }
}

/** WEBHOOK_ALLOWLIST: where webhooks may go although it is internal (and may use plain HTTP). */
export class WebhookAllowlist extends AddressAllowlist {
  constructor(entries: readonly string[]) {
    super(entries, 'WEBHOOK_ALLOWLIST');
  }
}

/**
 * The address of `addresses` (what `hostname` resolved to) that may not be reached, or undefined when all
 * may: an allowlisted host name allows every address; otherwise each internal address must lie in an
 * allowlisted range. One internal address refuses the host, since the connection may pick any of them.
 */
export function refusedAddress(hostname: string, addresses: readonly string[], allowlist: AddressAllowlist): string | undefined {
  if (allowlist.allowsHost(hostname)) return undefined;
  return addresses.find((address) => isInternalAddress(address) && !allowlist.allowsAddress(address));
}

/** What a refusal says about the address: the same words for every caller. */
export const INTERNAL_ADDRESS_KINDS = 'loopback, private, link-local, CGNAT, metadata or reserved';
