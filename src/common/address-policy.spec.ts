import { embeddedIpv4, isInternalAddress, WebhookAllowlist } from './address-policy';

describe('isInternalAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fc00::1',
    'fd00:ec2::254',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '64:ff9b::10.0.0.1',
    '::10.0.0.1',
  ])('refuses %s', (address) => {
    expect(isInternalAddress(address)).toBe(true);
  });

  it.each([
    '1.1.1.1',
    '8.8.8.8',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '192.169.0.1',
    '169.255.0.1',
    '2606:4700:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
  ])('allows %s', (address) => {
    expect(isInternalAddress(address)).toBe(false);
  });

  it('throws on a host name', () => {
    expect(() => isInternalAddress('localhost')).toThrow('not an IP address');
  });
});

describe('embeddedIpv4', () => {
  it('reads mapped, compatible and NAT64 forms', () => {
    expect(embeddedIpv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(embeddedIpv4('::ffff:a01:203')).toBe('10.1.2.3');
    expect(embeddedIpv4('64:ff9b::c0a8:101')).toBe('192.168.1.1');
    expect(embeddedIpv4('2001:db8::1')).toBeUndefined();
    expect(embeddedIpv4('::1')).toBeUndefined();
    expect(embeddedIpv4('10.0.0.1')).toBeUndefined();
  });
});

describe('WebhookAllowlist', () => {
  const allowlist = new WebhookAllowlist(['127.0.0.1', '10.20.0.0/16', 'hooks.internal.example', 'fd12::/16', ' ', '[::1]']);

  it('matches single addresses and CIDR ranges, IPv4 and IPv6', () => {
    expect(allowlist.allowsAddress('127.0.0.1')).toBe(true);
    expect(allowlist.allowsAddress('127.0.0.2')).toBe(false);
    expect(allowlist.allowsAddress('10.20.255.1')).toBe(true);
    expect(allowlist.allowsAddress('10.21.0.1')).toBe(false);
    expect(allowlist.allowsAddress('fd12:abcd::1')).toBe(true);
    expect(allowlist.allowsAddress('fd13::1')).toBe(false);
    expect(allowlist.allowsAddress('::1')).toBe(true);
    expect(allowlist.allowsAddress('::ffff:127.0.0.1')).toBe(true);
    expect(allowlist.allowsAddress('not-an-address')).toBe(false);
  });

  it('matches host names exactly, ignoring case and a trailing dot', () => {
    expect(allowlist.allowsHost('Hooks.Internal.Example.')).toBe(true);
    expect(allowlist.allowsHost('evil.hooks.internal.example')).toBe(false);
    expect(allowlist.allowsHost('127.0.0.1')).toBe(false);
  });

  it('rejects malformed ranges', () => {
    expect(() => new WebhookAllowlist(['10.0.0.0/33'])).toThrow('not a valid CIDR range');
    expect(() => new WebhookAllowlist(['example.com/8'])).toThrow('not a valid CIDR range');
    expect(() => new WebhookAllowlist(['10.0.0.0/x'])).toThrow('not a valid CIDR range');
  });
});
