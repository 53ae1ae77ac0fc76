import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { RegistryCredential, RegistryCredentials, RegistryCredentialsError, canonicalRegistry } from './registry-credentials';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const basic = (user: string, password: string) => `Basic ${b64(`${user}:${password}`)}`;

describe('RegistryCredentials', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'registry-credentials-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeConfig = (config: unknown, path = join(dir, 'config.json')) => {
    writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config));
    return path;
  };

  it('reads auths from $DOCKER_CONFIG/config.json, matching by host in every key style', () => {
    writeConfig({
      auths: {
        'registry.example.com': { auth: b64('alice:s3cret:with:colons') },
        'https://legacy.example.com/v1/': { auth: b64('bob:pw') },
        'http://localhost:5000': { username: 'carol', password: 'pw2' },
        'https://index.docker.io/v1/': { auth: b64('hub:pw3') },
        'acr.example.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh-me' },
      },
      credsStore: 'desktop',
    });
    const credentials = RegistryCredentials.load({ env: { DOCKER_CONFIG: dir } });
    expect(credentials.forRegistry('registry.example.com')?.basicAuthorization()).toBe(basic('alice', 's3cret:with:colons'));
    expect(credentials.forRegistry('REGISTRY.example.com')?.basicAuthorization()).toBe(basic('alice', 's3cret:with:colons'));
    expect(credentials.forRegistry('legacy.example.com')?.basicAuthorization()).toBe(basic('bob', 'pw'));
    expect(credentials.forRegistry('localhost:5000')?.basicAuthorization()).toBe(basic('carol', 'pw2'));
    expect(credentials.forRegistry('registry-1.docker.io')?.basicAuthorization()).toBe(basic('hub', 'pw3'));
    expect(credentials.forRegistry('docker.io')?.username).toBe('hub');
    const acr = credentials.forRegistry('acr.example.io')!;
    expect(acr.kind).toBe('identity-token');
    expect(acr.refreshToken()).toBe('refresh-me');
    expect(acr.username).toBe('00000000-0000-0000-0000-000000000000');
    // Hosts must match exactly: no prefix, suffix or port-less matches.
    expect(credentials.forRegistry('localhost')).toBeUndefined();
    expect(credentials.forRegistry('example.com')).toBeUndefined();
    expect(credentials.forRegistry('evil-registry.example.com')).toBeUndefined();
  });

  it('falls back to ~/.docker/config.json and tolerates its absence', () => {
    mkdirSync(join(dir, '.docker'));
    writeConfig({ auths: { 'r.example': { auth: b64('u:p') } } }, join(dir, '.docker', 'config.json'));
    expect(RegistryCredentials.load({ env: { HOME: dir } }).forRegistry('r.example')).toBeDefined();
    expect(RegistryCredentials.load({ env: { DOCKER_CONFIG: join(dir, 'nowhere') } }).registries()).toEqual([]);
  });

  it('insists on an explicitly given config file', () => {
    expect(() => RegistryCredentials.load({ dockerConfigPath: join(dir, 'missing.json') })).toThrow(RegistryCredentialsError);
    expect(() => RegistryCredentials.load({ dockerConfigPath: join(dir, 'missing.json') })).toThrow(/cannot read Docker config .*ENOENT/);
  });

  it('lets per-registry settings win over the Docker config', () => {
    const path = writeConfig({ auths: { 'r.example': { auth: b64('file:pw') } } });
    const credentials = RegistryCredentials.load({ dockerConfigPath: path, registries: { 'r.example': { username: 'code', password: 'pw' } } });
    expect(credentials.forRegistry('r.example')?.basicAuthorization()).toBe(basic('code', 'pw'));
  });

  it('skips entries without usable credentials (credential-helper leftovers)', () => {
    const path = writeConfig({ auths: { 'helper.example': {}, 'r.example': { auth: '' } }, credHelpers: { 'helper.example': 'ecr-login' } });
    expect(RegistryCredentials.load({ dockerConfigPath: path }).registries()).toEqual([]);
  });

  it('explains a broken file without quoting its content', () => {
    const notJson = writeConfig('{"auths": {"r.example": {"auth": "c2VjcmV0cGFzc3dvcmQ=" oops');
    expect(() => RegistryCredentials.load({ dockerConfigPath: notJson })).toThrow(/is not valid JSON$/);
    try {
      RegistryCredentials.load({ dockerConfigPath: notJson });
    } catch (error) {
      expect((error as Error).message).not.toContain('c2VjcmV0');
    }
    const badAuth = writeConfig({ auths: { 'r.example': { auth: b64('no-colon-here') } } });
    expect(() => RegistryCredentials.load({ dockerConfigPath: badAuth })).toThrow(/auths\["r.example"\]: "auth" is not base64/);
    const notObject = writeConfig('[1]');
    expect(() => RegistryCredentials.load({ dockerConfigPath: notObject })).toThrow(/not a JSON object/);
  });

  it('requires a username and password for per-registry settings', () => {
    expect(() => RegistryCredentials.load({ env: {}, registries: { 'r.example': { username: 'u', password: '' } } })).toThrow(/need both a username and a password/);
  });

  it('never shows secrets in JSON or inspect output', () => {
    const credential = RegistryCredential.basic('alice', 'hunter2-secret');
    const token = RegistryCredential.identityToken('refresh-token-secret', '<token>');
    const credentials = new RegistryCredentials([
      ['r.example', credential],
      ['t.example', token],
    ]);
    for (const shown of [
      JSON.stringify(credential),
      JSON.stringify(token),
      JSON.stringify(credentials),
      inspect(credential),
      inspect(token),
      inspect(credentials),
      inspect({ nested: credential }, { depth: 5 }),
      String(credential),
    ]) {
      expect(shown).not.toContain('hunter2');
      expect(shown).not.toContain('refresh-token-secret');
    }
    expect(JSON.stringify(credential)).toContain('alice');
  });

  it('canonicalizes registry names', () => {
    expect(canonicalRegistry('https://Registry.Example.com:5000/v1/')).toBe('registry.example.com:5000');
    expect(canonicalRegistry('index.docker.io')).toBe('docker.io');
  });
});
