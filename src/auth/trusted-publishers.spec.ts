import { Logger } from '@nestjs/common';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProblemError } from '../common/problem';
import { ConfigError } from '../config/config-error';
import { loadConfig } from '../config/config.schema';
import { checkTrustedPublishersFile, TrustedPublishers } from './trusted-publishers';
import { type TestKey, TestIssuer, testKey } from './__fixtures__/test-issuer';

async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error('expected a problem');
}

describe('TrustedPublishers', () => {
  let dir: string;
  let rulesFile: string;
  let issuer: TestIssuer;
  let key: TestKey;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'trusted-publishers-spec-'));
    rulesFile = join(dir, 'rules.json');
    issuer = await TestIssuer.start();
    key = await testKey('k1');
    issuer.published = [key];
    writeRules([appMain()]);
  });

  afterEach(async () => {
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const appMain = (overrides: Record<string, unknown> = {}) => ({
    name: 'app-main',
    issuer: issuer.url,
    claims: { repository: 'my-org/app', ref: 'refs/heads/main' },
    scopes: ['artifacts:write', 'signatures:write'],
    repositories: ['ghcr.io/my-org/app', 'ghcr.io/my-org/app/**'],
    ...overrides,
  });
  const writeRules = (rules: unknown[]) => {
    const before = (() => {
      try {
        return statSync(rulesFile).mtimeMs;
      } catch {
        return Date.now();
      }
    })();
    writeFileSync(rulesFile, JSON.stringify({ rules }));
    utimesSync(rulesFile, new Date(), new Date(before + 2_000));
  };
  const service = (env: Record<string, string> = {}) => new TrustedPublishers(loadConfig({ TRUSTED_PUBLISHERS_FILE: rulesFile, OIDC_ISSUER_TIMEOUT_MS: '500', ...env }));
  const mainToken = (claims: Record<string, unknown> = {}) => issuer.token(key, { repository: 'my-org/app', ref: 'refs/heads/main', ...claims });

  it('admits a token a rule maps: its issuer and subject, the rule, the claims it matched, the rule’s scopes and repositories', async () => {
    const caller = await service().authenticate(await mainToken({ actor: 'octocat' }));
    expect(caller.principal).toBe(`oidc:${issuer.url}#repo:my-org/app:ref:refs/heads/main`);
    expect(caller.identity).toEqual({
      kind: 'oidc',
      issuer: issuer.url,
      subject: 'repo:my-org/app:ref:refs/heads/main',
      rule: 'app-main',
      claims: { repository: 'my-org/app', ref: 'refs/heads/main' },
    });
    expect([...caller.scopes]).toEqual(['artifacts:write', 'signatures:write']);
    expect(caller.repositories.patterns).toEqual(['ghcr.io/my-org/app', 'ghcr.io/my-org/app/**']);
  });

  it('refuses the token of an issuer no rule names (401 TOKEN_ISSUER_NOT_TRUSTED) without fetching anything', async () => {
    const problem = await problemOf(service().authenticate(await mainToken({ iss: 'https://token.actions.githubusercontent.com' })));
    expect(problem).toMatchObject({ status: 401, code: 'TOKEN_ISSUER_NOT_TRUSTED' });
    expect(problem.detail).toContain('"https://token.actions.githubusercontent.com"');
    expect(problem.headers['www-authenticate']).toBe('Bearer realm="wasm-signer", error="invalid_token"');
    expect(issuer.requests).toEqual({ discovery: 0, jwks: 0 });
  });

  it.each([
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }, 'TOKEN_EXPIRED'],
    ['a token for another audience', { aud: 'sigstore' }, 'TOKEN_AUDIENCE_INVALID'],
  ])('refuses %s (401 with its code, never the token)', async (_what, claims, code) => {
    const token = await mainToken(claims);
    const problem = await problemOf(service().authenticate(token));
    expect(problem).toMatchObject({ status: 401, code });
    expect(JSON.stringify(problem.toDocument())).not.toContain(token.split('.')[2]);
  });

  it('refuses a valid token that no rule admits (403 NO_MATCHING_PUBLISHER_RULE)', async () => {
    for (const claims of [{ ref: 'refs/heads/feature' }, { repository: 'my-org/other' }]) {
      const problem = await problemOf(service().authenticate(await mainToken(claims)));
      expect(problem).toMatchObject({ status: 403, code: 'NO_MATCHING_PUBLISHER_RULE' });
      expect(problem.detail).toContain('no trusted-publisher rule admits it');
    }
  });

  it('honours a rule’s own audience, and OIDC_AUDIENCE for the others', async () => {
    writeRules([appMain({ audience: 'https://github.com/my-org' }), appMain({ name: 'default-audience', claims: { repository: 'my-org/tools' } })]);
    const publishers = service({ OIDC_AUDIENCE: 'signer.example' });
    expect((await publishers.authenticate(await mainToken({ aud: 'https://github.com/my-org' }))).identity).toMatchObject({ rule: 'app-main' });
    expect((await publishers.authenticate(await mainToken({ repository: 'my-org/tools', aud: 'signer.example' }))).identity).toMatchObject({ rule: 'default-audience' });
    expect(await problemOf(publishers.authenticate(await mainToken({ aud: 'wasm-signer' })))).toMatchObject({ code: 'TOKEN_AUDIENCE_INVALID' });
  });

  it('answers 503 OIDC_ISSUER_UNAVAILABLE when the issuer cannot give its keys', async () => {
    issuer.fail.discovery = 503;
    const problem = await problemOf(service().authenticate(await mainToken()));
    expect(problem).toMatchObject({ status: 503, code: 'OIDC_ISSUER_UNAVAILABLE' });
    expect(problem.detail).toContain(issuer.url);
  });

  it('applies a changed rule from the next request on', async () => {
    const publishers = service();
    const token = await mainToken({ ref: 'refs/tags/v1.0.0' });
    expect(await problemOf(publishers.authenticate(token))).toMatchObject({ code: 'NO_MATCHING_PUBLISHER_RULE' });
    writeRules([appMain({ name: 'app-tags', claims: { repository: 'my-org/app', ref: 'refs/tags/v*' }, scopes: ['signatures:write'] })]);
    const caller = await publishers.authenticate(token);
    expect(caller.identity).toMatchObject({ rule: 'app-tags', claims: { ref: 'refs/tags/v1.0.0' } });
    expect([...caller.scopes]).toEqual(['signatures:write']);
  });

  it('refuses every token with 503 while a changed rules file is not valid, then recovers', async () => {
    const publishers = service();
    writeRules([appMain({ scopes: [] })]);
    const problem = await problemOf(publishers.authenticate(await mainToken()));
    expect(problem).toMatchObject({ status: 503, code: 'TRUSTED_PUBLISHER_RULES_INVALID' });
    expect(problem.detail).toContain('TRUSTED_PUBLISHERS_FILE');
    writeRules([appMain()]);
    await expect(publishers.authenticate(await mainToken())).resolves.toMatchObject({ identity: { rule: 'app-main' } });
  });

  it('refuses to start on a bad rule: a ConfigError naming the variable, the rule and the problem', () => {
    writeRules([appMain(), appMain({ name: 'broken', repositories: ['not-a-pattern'] })]);
    const config = loadConfig({ TRUSTED_PUBLISHERS_FILE: rulesFile });
    expect(() => checkTrustedPublishersFile(config)).toThrow(ConfigError);
    expect(() => new TrustedPublishers(config)).toThrow(
      expect.objectContaining({
        problems: [{ variable: 'TRUSTED_PUBLISHERS_FILE', message: expect.stringMatching(/^rules\[1\] \("broken"\): repositories: "not-a-pattern" must be host\[:port\]\/path/) }],
      }),
    );
  });

  it('without TRUSTED_PUBLISHERS_FILE admits no token', async () => {
    const problem = await problemOf(new TrustedPublishers(loadConfig({})).authenticate(await mainToken()));
    expect(problem).toMatchObject({ status: 401, code: 'TOKEN_ISSUER_NOT_TRUSTED' });
  });
});
