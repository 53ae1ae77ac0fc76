import { parseTrustedPublisherRules, type TokenClaims, TrustedPublisherRulesError, wildcardMatch } from './trusted-publisher-rules';

const GITHUB = 'https://token.actions.githubusercontent.com';
const GITLAB = 'https://gitlab.com';

const githubRule = (overrides: Record<string, unknown> = {}) => ({
  name: 'app-main',
  issuer: GITHUB,
  claims: { repository: 'my-org/app', ref: 'refs/heads/main' },
  scopes: ['artifacts:write', 'signatures:write'],
  repositories: ['ghcr.io/my-org/app', 'ghcr.io/my-org/app/**'],
  ...overrides,
});

const parse = (rules: unknown[], audience = 'wasm-signer') => parseTrustedPublisherRules(JSON.stringify({ rules }), audience);

const problemsOf = (text: string): readonly string[] => {
  try {
    parseTrustedPublisherRules(text, 'wasm-signer');
  } catch (error) {
    if (error instanceof TrustedPublisherRulesError) return error.problems;
    throw error;
  }
  throw new Error('expected the rules to be refused');
};
const ruleProblems = (rules: unknown[]) => problemsOf(JSON.stringify({ rules }));

const githubToken = (claims: Record<string, unknown>, audiences = ['wasm-signer']): TokenClaims => ({
  issuer: GITHUB,
  audiences,
  claims: { iss: GITHUB, sub: `repo:${String(claims.repository)}:ref:${String(claims.ref)}`, ...claims },
});

describe('trusted-publisher rules', () => {
  describe('matching', () => {
    const rules = parse([githubRule()]);

    it('admits the repository and branch the rule names, with its scopes and repositories', () => {
      const match = rules.match(githubToken({ repository: 'my-org/app', ref: 'refs/heads/main', actor: 'someone' }));
      expect(match?.rule.name).toBe('app-main');
      expect(match?.claims).toEqual({ repository: 'my-org/app', ref: 'refs/heads/main' });
      expect([...match!.rule.scopes]).toEqual(['artifacts:write', 'signatures:write']);
      expect(match!.rule.repositories.allows('ghcr.io/my-org/app')).toBe(true);
      expect(match!.rule.repositories.allows('ghcr.io/my-org/app/plugins/x')).toBe(true);
      expect(match!.rule.repositories.allows('ghcr.io/my-org/other')).toBe(false);
    });

    it.each([
      ['another repository', { repository: 'my-org/app-fork', ref: 'refs/heads/main' }],
      ['another branch', { repository: 'my-org/app', ref: 'refs/heads/feature' }],
      ['a claim missing', { repository: 'my-org/app' }],
      ['a claim that is not a string', { repository: 'my-org/app', ref: ['refs/heads/main'] }],
      ['a claim that differs only in case', { repository: 'My-Org/app', ref: 'refs/heads/main' }],
    ])('admits no token with %s', (_what, claims) => {
      expect(rules.match(githubToken(claims))).toBeUndefined();
    });

    it('admits no token of another issuer, or for another audience', () => {
      const claims = { repository: 'my-org/app', ref: 'refs/heads/main' };
      expect(rules.match({ ...githubToken(claims), issuer: GITLAB })).toBeUndefined();
      expect(rules.match(githubToken(claims, ['sigstore']))).toBeUndefined();
      expect(rules.match(githubToken(claims, ['sigstore', 'wasm-signer']))?.rule.name).toBe('app-main');
    });

    it('uses the rule’s own audience instead of the default one', () => {
      const own = parse([githubRule({ audience: 'https://github.com/my-org' })]);
      const claims = { repository: 'my-org/app', ref: 'refs/heads/main' };
      expect(own.match(githubToken(claims))).toBeUndefined();
      expect(own.match(githubToken(claims, ['https://github.com/my-org']))?.rule.name).toBe('app-main');
      expect(own.audiencesOf(GITHUB)).toEqual(['https://github.com/my-org']);
    });

    it('takes the first matching rule in file order, never a union of rules', () => {
      const ordered = parse([
        githubRule({ name: 'tags', claims: { repository: 'my-org/app', ref: 'refs/tags/v*' }, scopes: ['signatures:write'] }),
        githubRule({ name: 'any-ref', claims: { repository: 'my-org/app' }, scopes: ['verifications:write'] }),
      ]);
      const tag = ordered.match(githubToken({ repository: 'my-org/app', ref: 'refs/tags/v1.2.0' }));
      expect(tag?.rule.name).toBe('tags');
      expect([...tag!.rule.scopes]).toEqual(['signatures:write']);
      expect(ordered.match(githubToken({ repository: 'my-org/app', ref: 'refs/heads/main' }))?.rule.name).toBe('any-ref');
    });

    it('knows which issuers it trusts and their audiences', () => {
      const two = parse([githubRule(), githubRule({ name: 'gitlab', issuer: GITLAB, claims: { project_path: 'my-group/app' } })]);
      expect([...two.issuers]).toEqual([GITHUB, GITLAB]);
      expect(two.trusts(GITLAB)).toBe(true);
      expect(two.trusts('https://gitlab.example')).toBe(false);
      expect(two.audiencesOf(GITHUB)).toEqual(['wasm-signer']);
    });

    it('says, for the log, why each rule of the issuer did not match', () => {
      const token = githubToken({ repository: 'my-org/app', ref: 'refs/heads/feature' });
      expect(rules.mismatches(token)).toEqual(['app-main: ref ("refs/heads/feature") do not match']);
      expect(rules.mismatches(githubToken({ repository: 'my-org/app', ref: 'refs/heads/main' }, ['sigstore']))).toEqual(['app-main: aud does not hold wasm-signer']);
    });
  });

  describe('claim conditions with *', () => {
    it.each([
      ['refs/tags/v*', 'refs/tags/v1.2.3', true],
      ['refs/tags/v*', 'refs/tags/v', true],
      ['refs/tags/v*', 'refs/heads/v1', false],
      ['refs/tags/v*', 'xrefs/tags/v1', false],
      ['my-org/*', 'my-org/app', true],
      ['my-org/*', 'my-org/group/app', true],
      ['my-org/*', 'my-org', false],
      ['*/app', 'any-org/app', true],
      ['my-org/*-service', 'my-org/billing-service', true],
      ['my-org/*-service', 'my-org/billing-service-old', false],
      ['a*b*c', 'aXXbYYc', true],
      ['a*b*c', 'aXXcYYb', false],
      ['exact', 'exact', true],
      ['exact', 'exactly', false],
      ['refs/tags/v1.?', 'refs/tags/v1.2', false],
    ])('%s against %s: %s', (pattern, value, matches) => {
      expect(wildcardMatch(pattern, value)).toBe(matches);
    });

    it('takes linear-ish time on adversarial values', () => {
      const started = performance.now();
      expect(wildcardMatch('*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(8192))).toBe(false);
      expect(performance.now() - started).toBeLessThan(500);
    });
  });

  describe('checking a rules file', () => {
    it('accepts the documented example and defaults the audience', () => {
      const [rule] = parse([githubRule()], 'my-service').rules;
      expect(rule).toMatchObject({ name: 'app-main', issuer: GITHUB, audience: 'my-service', claims: { repository: 'my-org/app', ref: 'refs/heads/main' } });
    });

    it('accepts loopback http issuers (the local stack) and no other plain-HTTP ones', () => {
      expect(parse([githubRule({ issuer: 'http://127.0.0.1:5550' })]).trusts('http://127.0.0.1:5550')).toBe(true);
      expect(parse([githubRule({ issuer: 'http://localhost:5550' })]).rules).toHaveLength(1);
      expect(ruleProblems([githubRule({ issuer: 'http://issuer.example' })])).toEqual([
        'rules[0] ("app-main"): issuer: must be an https:// URL (http:// only on loopback, for a local issuer)',
      ]);
    });

    it('names each problem with its rule index, name and field', () => {
      const problems = ruleProblems([
        githubRule(),
        githubRule({ name: 'bad', scopes: ['artifacts:write', 'artifact:write'], repositories: ['ghcr.io/My Org/app'] }),
        { name: 'worse', issuer: 'not a url', claims: { ref: 7 }, scopes: [], repositories: [], extra: true },
      ]);
      expect(problems).toEqual([
        'rules[1] ("bad"): scopes[1]: each must be one of artifacts:write, signatures:write, builds:write, verifications:write, records:read, webhooks:manage, metrics:read, admin',
        'rules[1] ("bad"): repositories: "ghcr.io/My Org/app" may hold only lower-case letters, digits, . _ - : / [ ] and the wildcards * and **',
        'rules[2] ("worse"): issuer: must be a URL (the exact `iss` of the tokens, e.g. https://token.actions.githubusercontent.com)',
        'rules[2] ("worse"): claims.ref: each condition must be a string (the claim value, * for any run of characters)',
        'rules[2] ("worse"): scopes: must grant at least one scope',
        'rules[2] ("worse"): repositories: must allow at least one repository pattern',
        'rules[2] ("worse"): Unrecognized key: "extra"',
      ]);
    });

    it.each([
      ['no claims', { claims: {} }, 'claims: must name at least one claim'],
      ['a condition of only *', { claims: { repository: '**' } }, 'claims.repository: a condition of only * matches every value'],
      ['iss among the claims', { claims: { repository: 'a/b', iss: GITHUB } }, 'claims: iss cannot be matched here'],
      ['a __proto__ claim', { claims: JSON.parse('{"__proto__":"x","repository":"a/b"}') as unknown }, 'claims.__proto__: claim names are'],
      ['the admin scope', { scopes: ['admin'] }, 'scopes: admin is not granted to tokens'],
      ['an empty audience', { audience: '' }, 'audience: must not be empty'],
      ['a name with spaces', { name: 'app main' }, 'name: must be 1-100 letters'],
      ['a missing name', { name: undefined }, 'rules[0]: name: must be a string'],
    ])('refuses %s', (_what, overrides, message) => {
      expect(ruleProblems([githubRule(overrides)]).join('\n')).toContain(message);
    });

    it('refuses two rules of the same name', () => {
      expect(ruleProblems([githubRule(), githubRule({ claims: { repository: 'my-org/other' } })])).toEqual([
        'rules[1] ("app-main"): name: also the name of rules[0]; names must be unique (identities name their rule)',
      ]);
    });

    it.each([
      ['text that is not JSON', '{"rules": [', /^not valid JSON/],
      ['a list instead of {"rules": [...]}', '[]', /^must be a JSON object \{"rules": \[\.\.\.\]\}$/],
      ['a misspelt top-level key', '{"rules": [], "rule": []}', /Unrecognized key: "rule"/],
      ['rules that are not a list', '{"rules": {}}', /^rules: must be a list of rules$/],
    ])('refuses %s', (_what, text, message) => {
      expect(problemsOf(text).join('\n')).toMatch(message);
    });

    it('refuses more than 256 rules', () => {
      const rules = Array.from({ length: 257 }, (_, i) => githubRule({ name: `r${i}` }));
      expect(ruleProblems(rules)).toEqual(['rules: at most 256 rules']);
    });

    it('accepts an empty list: no token is admitted', () => {
      expect(parse([]).issuers.size).toBe(0);
    });
  });
});
