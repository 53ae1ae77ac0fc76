import { InvalidReferenceError, dockerReference, formatReference, parseOciReference, parseRepository } from './oci-reference';

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
    ['registry.example.com/Comp', /path component "Comp" is invalid/],
    ['registry.example.com/ns//comp', /path component "" is invalid/],
    ['registry.example.com/ns/comp/', /path component "" is invalid/],
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
    [`registry.example.com/${'a'.repeat(250)}`, /exceed 255 characters/],
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
