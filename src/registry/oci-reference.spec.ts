import { InvalidReferenceError, canonicalRepositoryName, dockerReference, formatReference, parseOciReference, parseRepository } from './oci-reference';

const HEX = 'a'.repeat(64);
const DIGEST = `sha256:${HEX}`;

describe('parseOciReference', () => {
  it.each([
    ['registry.example.com/ns/comp', { registry: 'registry.example.com', repository: 'ns/comp' }],
    ['registry.example.com/ns/comp:v1.2.3', { registry: 'registry.example.com', repository: 'ns/comp', tag: 'v1.2.3' }],
    [`registry.example.com/ns/comp@${DIGEST}`, { registry: 'registry.example.com', repository: 'ns/comp', digest: DIGEST }],
    [`registry.example.com/ns/comp:v1@${DIGEST}`, { registry: 'registry.example.com', repository: 'ns/comp', tag: 'v1', digest: DIGEST }],
    ['localhost/comp', { registry: 'localhost', repository: 'comp' }],
    ['localhost:5000/a/b/c:latest', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'latest' }],
    ['127.0.0.1:5000/comp:_x', { registry: '127.0.0.1:5000', repository: 'comp', tag: '_x' }],
    ['[::1]:5000/comp', { registry: '[::1]:5000', repository: 'comp' }],
    ['Registry.Example.COM/comp', { registry: 'Registry.Example.COM', repository: 'comp' }],
    ['ghcr.io/o/my_comp__x.y-z--w', { registry: 'ghcr.io', repository: 'o/my_comp__x.y-z--w' }],
    [`ghcr.io/o/c:${'T'.repeat(128)}`, { registry: 'ghcr.io', repository: 'o/c', tag: 'T'.repeat(128) }],
    // distribution/reference's own cases (reference_test.go), with the registry host this service requires.
    ['test:5000/repo:tag', { registry: 'test:5000', repository: 'repo', tag: 'tag' }],
    ['sub-dom1.foo.com/bar/baz/quux:some-long-tag', { registry: 'sub-dom1.foo.com', repository: 'bar/baz/quux', tag: 'some-long-tag' }],
    ['b.gcr.io/test.example.com/my-app:test.example.com', { registry: 'b.gcr.io', repository: 'test.example.com/my-app', tag: 'test.example.com' }],
    ['xn--n3h.com/myimage:xn--n3h.com', { registry: 'xn--n3h.com', repository: 'myimage', tag: 'xn--n3h.com' }],
    ['192.168.1.1:5000/repo:5050', { registry: '192.168.1.1:5000', repository: 'repo', tag: '5050' }],
    ['[2001:db8::1]/repo', { registry: '[2001:db8::1]', repository: 'repo' }],
    ['[2001:db8:1:2:3:4:5:6]/repo:tag', { registry: '[2001:db8:1:2:3:4:5:6]', repository: 'repo', tag: 'tag' }],
    [`[2001:db8::1]:5000/repo:tag@${DIGEST}`, { registry: '[2001:db8::1]:5000', repository: 'repo', tag: 'tag', digest: DIGEST }],
    ['localhost:65535/a', { registry: 'localhost:65535', repository: 'a' }],
    ['EXAMPLE.com:443/a/b', { registry: 'EXAMPLE.com:443', repository: 'a/b' }],
    [`example.com/${'a'.repeat(255)}:tag`, { registry: 'example.com', repository: 'a'.repeat(255), tag: 'tag' }],
    [`${'a'.repeat(63)}.example.com/a`, { registry: `${'a'.repeat(63)}.example.com`, repository: 'a' }],
    ['a-b--c.example/x.y/z__w/v-1', { registry: 'a-b--c.example', repository: 'x.y/z__w/v-1' }],
  ])('parses %s', (text, expected) => {
    expect(parseOciReference(text)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['comp', /must start with a registry host/],
    ['library/comp', /must start with a registry host/],
    ['ns/comp:v1', /must start with a registry host/],
    ['registry.example.com', /must start with a registry host/],
    [' registry.example.com/comp', /whitespace/],
    ['registry.example.com/co mp', /whitespace/],
    ['-bad.example.com/comp', /registry host "-bad.example.com" is not a valid/],
    ['registry.example.com:99999/comp', /port 99999 is out of range/],
    ['registry.example.com:0/comp', /port 0 is out of range/],
    ['registry.example.com:abc/comp', /not a valid host/],
    ['registry.example.com/', /repository path is empty/],
    ['registry.example.com/Comp', /path component "Comp" must be lowercase/],
    ['registry.example.com/ns//comp', /empty component/],
    ['registry.example.com/ns/comp/', /empty component/],
    ['registry.example.com/comp_', /path component "comp_" is invalid/],
    ['registry.example.com/a___b', /path component "a___b" is invalid/],
    ['registry.example.com/a..b', /path component "a..b" is invalid/],
    ['registry.example.com/comp:', /tag "" is invalid/],
    ['registry.example.com/comp:.v1', /tag ".v1" is invalid/],
    ['registry.example.com/comp:-v1', /tag "-v1" is invalid/],
    [`registry.example.com/comp:${'t'.repeat(129)}`, /tag "t+" is invalid/],
    ['registry.example.com/comp@sha256:abc', /digest "sha256:abc" is invalid/],
    [`registry.example.com/comp@sha256:${'A'.repeat(64)}`, /digest .* is invalid/],
    [`registry.example.com/comp@sha512:${'a'.repeat(128)}`, /digest .* is invalid/],
    [`registry.example.com/comp@${DIGEST}@${DIGEST}`, /digest .* is invalid/],
    [`registry.example.com/${'a'.repeat(256)}`, /path has 256 characters, more than 255/],
    [`registry.example.com/${'a/'.repeat(127)}ab`, /path has 256 characters, more than 255/],
    // Tricky inputs: traversal, empty components, case, ports, addresses, long tags, digests.
    ['EXAMPLE.com:443/a/../b', /path component "\.\." is not allowed/],
    ['example.com/./b', /path component "\." is not allowed/],
    ['example.com/a/..', /path component "\.\." is not allowed/],
    ['host.example/a//b', /empty component/],
    ['host.example/A', /path component "A" must be lowercase/],
    ['test:5000/Uppercase/lowercase:tag', /"Uppercase" must be lowercase/],
    ['host.example:0/a', /port 0 is out of range/],
    ['host.example:65536/a', /port 65536 is out of range/],
    ['host.example:05000/a', /port 05000 has a leading zero/],
    [`host.example:${'9'.repeat(40)}/a`, /port 9{10}… is out of range/],
    ['host.example:/a', /not a valid host/],
    ['[::1]:5000:6000/a', /not a valid host/],
    ['[fe80::1%eth0]:5000/repo', /not a valid host/],
    ['[::ffff:127.0.0.1]:5000/repo', /not a valid host/],
    ['[:::]/repo', /\[:::\] is not an IPv6 address/],
    ['[2001:db8::1]:tag/repo', /not a valid host/],
    ['0x7f.0.0.1:5000/a', /neither a host name nor a dotted-decimal IPv4 address/],
    ['127.000.000.001:5000/a', /neither a host name nor a dotted-decimal IPv4 address/],
    ['2130706433:5000/a', /neither a host name nor a dotted-decimal IPv4 address/],
    ['1.2.3.256/a', /neither a host name nor a dotted-decimal IPv4 address/],
    ['1.2.3.4.5/a', /neither a host name nor a dotted-decimal IPv4 address/],
    [`${'a'.repeat(64)}.example.com/a`, /longer than a DNS name may be/],
    [`${'abcdefghi.'.repeat(26)}com/a`, /longer than a DNS name may be/],
    ['host_name.example/a', /not a valid host/],
    ['-host.example/a', /not a valid host/],
    ['host-.example/a', /not a valid host/],
    [`host.example/a:${'t'.repeat(129)}`, /tag "t+" is invalid/],
    ['host.example/a:v1:v2', /path component "a:v1" is invalid/],
    ['host.example/a:b/c', /tag "b\/c" is invalid/],
    [`host.example/a@sha256:${'A'.repeat(64)}`, /with uppercase digits/],
    [`host.example/a@sha256:${'a'.repeat(63)}`, /not 63 digits/],
    [`host.example/a@sha512:${'f'.repeat(128)}`, /algorithm "sha512" is not supported/],
    ['host.example/a@sha256', /digest "sha256" is invalid/],
    ['host.example/a@', /digest "" is invalid/],
    [`host.example/a:@${DIGEST}`, /tag "" is invalid/],
    ['host.example/a\u0000b', /path component .* is invalid/],
    ['host.example/a\tb', /whitespace/],
    ['host.example/ä', /path component "ä" is invalid/],
    [`host.example/${'a'.repeat(1100)}`, /more than 1024/],
  ])('rejects %j', (text, message) => {
    let thrown: unknown;
    try {
      parseOciReference(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidReferenceError);
    expect((thrown as InvalidReferenceError).code).toBe('INVALID_REFERENCE');
    expect((thrown as InvalidReferenceError).transient).toBe(false);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('parseRepository', () => {
  it('takes host[:port]/path', () => {
    expect(parseRepository('localhost:5000/ns/comp')).toEqual({ registry: 'localhost:5000', repository: 'ns/comp' });
  });

  it.each(['localhost:5000/ns/comp:v1', `localhost:5000/ns/comp@${DIGEST}`])('refuses a tag or digest in %s', (text) => {
    expect(() => parseRepository(text)).toThrow(/takes no tag or digest/);
  });

  it('insists on a registry host', () => {
    expect(() => parseRepository('ns/comp')).toThrow(InvalidReferenceError);
  });
});

describe('canonicalRepositoryName', () => {
  it.each([
    ['EXAMPLE.com:443/a/b', 'example.com/a/b'],
    ['example.com/a/b:v1', 'example.com/a/b'],
    ['Example.COM:5000/a/b', 'example.com:5000/a/b'],
    ['127.0.0.1:5000/ns/comp', '127.0.0.1:5000/ns/comp'],
    ['[2001:DB8:0:0:0:0:0:1]:443/a', '[2001:db8::1]/a'],
    ['[2001:db8::1]:5000/a', '[2001:db8::1]:5000/a'],
    ['localhost:4430/a', 'localhost:4430/a'],
    ['localhost:443/a', 'localhost/a'],
    ['Registry:443/a', 'registry:443/a'],
  ])('names %s as %s', (text, name) => {
    expect(canonicalRepositoryName(parseOciReference(text))).toBe(name);
  });
});

describe('formatReference and dockerReference', () => {
  it('round-trips', () => {
    for (const text of ['r.example/a/b', 'r.example:5000/a:v1', `r.example/a@${DIGEST}`, `r.example/a:v1@${DIGEST}`]) {
      expect(formatReference(parseOciReference(text))).toBe(text);
    }
  });

  it('gives registry/repository for cosign docker-reference', () => {
    expect(dockerReference(parseOciReference(`localhost:5000/ns/comp:v1@${DIGEST}`))).toBe('localhost:5000/ns/comp');
  });
});
