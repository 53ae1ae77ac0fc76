import { parseWwwAuthenticate } from './www-authenticate';

describe('parseWwwAuthenticate', () => {
  it('reads a bearer challenge whose scope contains a comma', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
  });

  it('reads basic, token values, spaces and escapes', () => {
    expect(parseWwwAuthenticate('Basic realm="Registry \\"Realm\\"" , charset=UTF-8')).toEqual([{ scheme: 'basic', params: { realm: 'Registry "Realm"', charset: 'UTF-8' } }]);
  });

  it('splits several challenges joined by fetch', () => {
    expect(parseWwwAuthenticate('Basic realm="a", Bearer realm="https://t",service=s')).toEqual([
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'https://t', service: 's' } },
    ]);
  });

  it('copes with empty and malformed headers', () => {
    expect(parseWwwAuthenticate(null)).toEqual([]);
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(parseWwwAuthenticate('Bearer')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseWwwAuthenticate('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: { realm: 'unterminated' } }]);
    expect(() => parseWwwAuthenticate('=,=;"x" {} Negotiate abc==')).not.toThrow();
  });
});
