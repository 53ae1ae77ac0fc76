import { HostPatterns, splitHostPort } from './host-patterns';

describe('HostPatterns', () => {
  const patterns = new HostPatterns(['Registry.Example.com', '*.corp.example:5000', '127.0.0.1:5000', '[2001:db8::1]', 'ghcr.io:443'], 'X');

  it.each([
    ['registry.example.com', true],
    ['REGISTRY.example.com:8443', true],
    ['a.corp.example:5000', true],
    ['a.b.corp.example:5000', true],
    ['corp.example:5000', false],
    ['a.corp.example', false],
    ['a.corp.example:5001', false],
    ['127.0.0.1:5000', true],
    ['127.0.0.1', false],
    ['[2001:0db8:0:0:0:0:0:1]:1234', true],
    ['ghcr.io', true],
    ['ghcr.io:443', true],
    ['ghcr.io:8443', false],
    ['registry.example.com.evil.example', false],
    ['not a host', false],
  ])('%s matches: %s', (host, expected) => {
    expect(patterns.matches(host)).toBe(expected);
  });

  it.each(['*', '*.', 'a/b', 'host:0', 'host:65536', 'host:05', '[::1', '[nope]', '*.[::1]', 'a..b', '-a.example', 'a_b.example'])('refuses the pattern %j', (entry) => {
    expect(() => new HostPatterns([entry], 'REGISTRY_ALLOWED_HOSTS')).toThrow(`REGISTRY_ALLOWED_HOSTS entry ${entry} is not a host[:port] pattern`);
  });

  it('splits host[:port] into canonical parts', () => {
    expect(splitHostPort('EXAMPLE.com:443')).toEqual({ host: 'example.com', port: undefined });
    expect(splitHostPort('[2001:DB8::0:1]:5000')).toEqual({ host: '[2001:db8::1]', port: '5000' });
    expect(splitHostPort('example.com:')).toBeUndefined();
  });
});
