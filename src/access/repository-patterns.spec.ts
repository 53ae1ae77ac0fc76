import { canonicalRepositoryName, parseOciReference } from '../registry/oci-reference';
import { InvalidRepositoryPatternError, parseRepositoryPattern, RepositoryPatterns } from './repository-patterns';

/** The canonical name of a reference's repository, as request services pass it. */
const repo = (name: string) => canonicalRepositoryName(parseOciReference(name));

describe('repository patterns', () => {
  const patterns = RepositoryPatterns.parse(['ghcr.io/my-org/app', 'ghcr.io/my-org/app/**', 'registry.example:5000/team/*/release']);

  it('allows the repository itself and what is below it with `**`', () => {
    expect(patterns.allows(repo('ghcr.io/my-org/app'))).toBe(true);
    expect(patterns.allows(repo('ghcr.io/my-org/app/plugins/auth'))).toBe(true);
    expect(patterns.allows(repo('ghcr.io/my-org/application'))).toBe(false);
    expect(patterns.allows(repo('ghcr.io/my-org/other'))).toBe(false);
    expect(patterns.allows(repo('ghcr.io/my-org'))).toBe(false);
  });

  it('lets `*` stand for one path component only', () => {
    expect(patterns.allows(repo('registry.example:5000/team/a/release'))).toBe(true);
    expect(patterns.allows(repo('registry.example:5000/team/a/b/release'))).toBe(false);
    expect(patterns.allows(repo('registry.example:5000/team/release'))).toBe(false);
  });

  it('compares normalised names: host case and the HTTPS port do not matter, other ports do', () => {
    expect(patterns.allows(repo('GHCR.IO:443/my-org/app'))).toBe(true);
    expect(patterns.allows(repo('ghcr.io:5000/my-org/app'))).toBe(false);
    expect(canonicalRepositoryName({ registry: 'EXAMPLE.com:443', repository: 'a/b' })).toBe('example.com/a/b');
    expect(RepositoryPatterns.parse(['Example.COM:443/a']).allows(repo('example.com/a'))).toBe(true);
  });

  it('never matches a name that only looks like it after path tricks (the reference parser refuses them)', () => {
    expect(() => parseOciReference('EXAMPLE.com:443/a/../b')).toThrow();
    expect(() => parseOciReference('example.com/a/./b')).toThrow();
    expect(() => parseOciReference('example.com/a//b')).toThrow();
    const onlyB = RepositoryPatterns.parse(['example.com/b']);
    expect(onlyB.allows('example.com/a/../b')).toBe(false);
  });

  it('treats pattern text literally apart from the wildcards', () => {
    const dotted = RepositoryPatterns.parse(['example.com/a.b']);
    expect(dotted.allows(repo('example.com/a.b'))).toBe(true);
    expect(dotted.allows(repo('example.com/axb'))).toBe(false);
    expect(RepositoryPatterns.parse(['[::1]:5000/a/**']).allows(repo('[::1]:5000/a/b'))).toBe(true);
  });

  it('`**` alone allows every repository', () => {
    expect(RepositoryPatterns.ANY.allows(repo('anything.example/x/y'))).toBe(true);
    expect(RepositoryPatterns.parse(['**']).allows(repo('localhost:5000/z'))).toBe(true);
  });

  it.each([
    ['', 'characters'],
    ['ghcr.io', 'host[:port]/path'],
    ['ghcr.io/', 'host[:port]/path'],
    ['/app', 'host[:port]/path'],
    ['ghcr.io/a/../b', '".."'],
    ['ghcr.io/a//b', 'empty'],
    ['ghcr.io/App', 'lower-case'],
    ['ghcr.io/a/***', 'not ***'],
    ['ghcr.io/a b', 'lower-case'],
    ['x'.repeat(300), 'characters'],
  ])('refuses the pattern %j', (pattern, message) => {
    expect(() => parseRepositoryPattern(pattern)).toThrow(InvalidRepositoryPatternError);
    expect(() => parseRepositoryPattern(pattern)).toThrow(message);
  });

  it('refuses more than 64 patterns', () => {
    expect(() => RepositoryPatterns.parse(Array.from({ length: 65 }, (_, i) => `example.com/r${i}`))).toThrow('at most 64');
  });

  it('matches in time linear in the name, whatever the pattern', () => {
    const stars = RepositoryPatterns.parse([`example.com/${'**a'.repeat(80)}`]);
    const started = process.hrtime.bigint();
    expect(stars.allows(`example.com/${'a'.repeat(200)}b`)).toBe(false);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });
});
