import { isIP } from 'node:net';
import { z } from 'zod';
import { InvalidRepositoryPatternError, MAX_REPOSITORY_PATTERNS, RepositoryPatterns } from '../access/repository-patterns';
import { SCOPES, type Scope } from '../access/scopes';

/**
 * Trusted-publisher rules: which CI and workload OIDC tokens are callers, and what they may do. The
 * rules file (TRUSTED_PUBLISHERS_FILE) is JSON:
 *
 * ```json
 * { "rules": [ {
 *     "name": "app-main",
 *     "issuer": "https://token.actions.githubusercontent.com",
 *     "claims": { "repository": "my-org/app", "ref": "refs/heads/main" },
 *     "scopes": ["artifacts:write", "signatures:write"],
 *     "repositories": ["ghcr.io/my-org/app", "ghcr.io/my-org/app/**"]
 * } ] }
 * ```
 *
 * A token is admitted by the FIRST rule, in file order, whose issuer is the token's `iss`, whose audience
 * (`audience`, else OIDC_AUDIENCE) is in its `aud`, and whose every claim condition holds. That one rule
 * gives the caller its scopes and repository patterns (rules are never merged: the identity names one
 * rule, and what a token may do is read off one place).
 *
 * A claim condition names a top-level claim and the string it must hold: exactly, or with `*` standing
 * for any run of characters, `/` included (`refs/tags/v*`). `*` is the only special character. A claim
 * the token lacks, or holds as something other than a string, never matches.
 */

export const MAX_RULES = 256;
const MAX_CLAIMS_PER_RULE = 32;
const MAX_CLAIM_VALUE_LENGTH = 256;
/** Claims a rule matches through its own fields (issuer, audience) or that say nothing about who is calling. */
const RESERVED_CLAIMS = ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti'];
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$/;
/** Claim names as CI systems use them; never `__proto__` and the like. */
const CLAIM_NAME = /^(?!__)[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$/;
const CLAIM_NAME_MESSAGE = 'claim names are 1-128 letters, digits or _ . : / - (starting with a letter, digit or one _)';

export interface TrustedPublisherRule {
  readonly name: string;
  readonly issuer: string;
  /** What `aud` must hold (the rule's own `audience`, else OIDC_AUDIENCE). */
  readonly audience: string;
  /** Claim name → condition, as written in the file. */
  readonly claims: Readonly<Record<string, string>>;
  readonly scopes: ReadonlySet<Scope>;
  readonly repositories: RepositoryPatterns;
}

/** A rules file that cannot be used; each problem names the rule (index and name) and the field. */
export class TrustedPublisherRulesError extends Error {
  readonly code = 'TRUSTED_PUBLISHER_RULES_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'TrustedPublisherRulesError';
  }
}

/** What a verified token shows a rule: its issuer, audiences and claims. */
export interface TokenClaims {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The rule that admitted a token, with the token's values of the claims it matched. */
export interface RuleMatch {
  readonly rule: TrustedPublisherRule;
  readonly claims: Record<string, string>;
}

/** The rules of one version of the file, by issuer, in file order. */
export class TrustedPublisherRules {
  private readonly byIssuer = new Map<string, TrustedPublisherRule[]>();

  constructor(readonly rules: readonly TrustedPublisherRule[]) {
    for (const rule of rules) {
      const list = this.byIssuer.get(rule.issuer) ?? [];
      list.push(rule);
      this.byIssuer.set(rule.issuer, list);
    }
  }

  static readonly NONE = new TrustedPublisherRules([]);

  /** Issuers some rule names: tokens of any other issuer are refused before any key is fetched. */
  get issuers(): ReadonlySet<string> {
    return new Set(this.byIssuer.keys());
  }

  trusts(issuer: string): boolean {
    return this.byIssuer.has(issuer);
  }

  /** The audiences an issuer's tokens may carry: those of its rules. */
  audiencesOf(issuer: string): string[] {
    return [...new Set((this.byIssuer.get(issuer) ?? []).map((rule) => rule.audience))];
  }

  /** The first rule that admits the token, or undefined. */
  match(token: TokenClaims): RuleMatch | undefined {
    for (const rule of this.byIssuer.get(token.issuer) ?? []) {
      if (!token.audiences.includes(rule.audience)) continue;
      const matched = matchClaims(rule.claims, token.claims);
      if (matched) return { rule, claims: matched };
    }
    return undefined;
  }

  /** Why no rule of the token's issuer admits it, one reason per rule (for the log, never for the caller). */
  mismatches(token: TokenClaims): string[] {
    return (this.byIssuer.get(token.issuer) ?? []).map((rule) => {
      if (!token.audiences.includes(rule.audience)) return `${rule.name}: aud does not hold ${rule.audience}`;
      const failed = Object.keys(rule.claims).filter((name) => !claimMatches(rule.claims[name]!, token.claims[name]));
      return `${rule.name}: ${failed.map((name) => `${name} (${describeValue(token.claims[name])})`).join(', ')} do not match`;
    });
  }
}

function matchClaims(conditions: Readonly<Record<string, string>>, claims: Readonly<Record<string, unknown>>): Record<string, string> | undefined {
  const matched: Record<string, string> = {};
  for (const [name, pattern] of Object.entries(conditions)) {
    const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
    if (!claimMatches(pattern, value)) return undefined;
    matched[name] = value as string;
  }
  return matched;
}

const claimMatches = (pattern: string, value: unknown): boolean => typeof value === 'string' && wildcardMatch(pattern, value);

function describeValue(value: unknown): string {
  if (value === undefined) return 'absent';
  if (typeof value !== 'string') return `a ${Array.isArray(value) ? 'list' : typeof value}`;
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

/**
 * Whether `value` matches `pattern`, where `*` is any run of characters. Written here rather than as a
 * regular expression: `a*a*a*…` compiled to `.*` groups backtracks exponentially on a long claim; this
 * greedy matcher with one backtrack point is O(pattern × value) at worst.
 */
export function wildcardMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

/** `localhost`, 127.0.0.0/8 or [::1] (a URL's hostname). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || (isIP(hostname) === 4 && hostname.startsWith('127.'));
}

/**
 * An issuer is an `https://` URL (its keys must not be replaceable on the way); `http://` only on
 * loopback, for the local stack's issuer. No query or fragment, as OpenID Connect Discovery requires.
 */
export function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'must be a URL (the exact `iss` of the tokens, e.g. https://token.actions.githubusercontent.com)';
  }
  if (url.search || url.hash || url.username || url.password) return 'must have no query, fragment or credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return undefined;
  return 'must be an https:// URL (http:// only on loopback, for a local issuer)';
}

const ruleSchema = z.strictObject({
  name: z.string('must be a string').regex(RULE_NAME, 'must be 1-100 letters, digits or . _ : @ / - (starting with a letter or digit)'),
  issuer: z
    .string('must be a string')
    .max(512, 'must be at most 512 characters')
    .superRefine((issuer, ctx) => {
      const problem = issuerProblem(issuer);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  audience: z.string('must be a string').min(1, 'must not be empty').max(256, 'must be at most 256 characters').optional(),
  claims: z
    .record(
      z.string().regex(CLAIM_NAME, CLAIM_NAME_MESSAGE),
      z
        .string('each condition must be a string (the claim value, * for any run of characters)')
        .min(1, 'a condition must not be empty')
        .max(MAX_CLAIM_VALUE_LENGTH, `a condition has at most ${MAX_CLAIM_VALUE_LENGTH} characters`)
        .refine((pattern) => /[^*]/.test(pattern), 'a condition of only * matches every value: leave the claim out, or say what it must hold'),
      'must be an object of claim names to the values they must hold',
    )
    .superRefine((claims, ctx) => {
      const names = Object.keys(claims);
      if (names.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'must name at least one claim (e.g. repository, ref): a rule on the issuer alone would admit every workflow or workload of that issuer',
        });
      }
      if (names.length > MAX_CLAIMS_PER_RULE) ctx.addIssue({ code: 'custom', message: `at most ${MAX_CLAIMS_PER_RULE} claims` });
      const reserved = names.filter((name) => RESERVED_CLAIMS.includes(name));
      if (reserved.length > 0) {
        ctx.addIssue({ code: 'custom', message: `${reserved.join(', ')} cannot be matched here (the rule's issuer and audience say what iss and aud must be)` });
      }
    }),
  scopes: z
    .array(z.enum(SCOPES, `each must be one of ${SCOPES.join(', ')}`), 'must be a list of scopes')
    .min(1, 'must grant at least one scope')
    .max(SCOPES.length, `at most ${SCOPES.length} scopes`)
    .refine((scopes) => !scopes.includes('admin'), 'admin is not granted to tokens: a CI job holding it could create API keys; use an API key for administration'),
  repositories: z
    .array(z.string('each must be a string'), 'must be a list of repository patterns')
    .min(1, 'must allow at least one repository pattern')
    .max(MAX_REPOSITORY_PATTERNS, `at most ${MAX_REPOSITORY_PATTERNS} patterns`)
    .transform((patterns, ctx) => {
      try {
        return RepositoryPatterns.parse(patterns);
      } catch (error) {
        if (!(error instanceof InvalidRepositoryPatternError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.message });
        return z.NEVER;
      }
    }),
});

const fileSchema = z.strictObject({ rules: z.array(z.unknown(), 'must be a list of rules').max(MAX_RULES, `at most ${MAX_RULES} rules`) });

/**
 * Claim names zod's record would drop without a word (`__proto__`): a condition must never vanish from
 * a rule, so each is a problem of its own.
 */
function droppedClaimNames(raw: unknown): string[] {
  const claims = (raw as { claims?: unknown } | null)?.claims;
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return [];
  return Object.keys(claims).filter((name) => !CLAIM_NAME.test(name) && name.startsWith('__'));
}

const pathText = (path: readonly PropertyKey[]) => path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`)).join('');

/**
 * Parses and checks a rules file's text. Throws TrustedPublisherRulesError listing every problem, each
 * naming its rule: `rules[2] ("app-main"): claims.ref: …`.
 */
export function parseTrustedPublisherRules(text: string, defaultAudience: string): TrustedPublisherRules {
  let document: unknown;
  try {
    document = JSON.parse(text) as unknown;
  } catch (error) {
    throw new TrustedPublisherRulesError([`not valid JSON: ${(error as Error).message}`]);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) throw new TrustedPublisherRulesError(['must be a JSON object {"rules": [...]}']);
  const file = fileSchema.safeParse(document);
  if (!file.success) throw new TrustedPublisherRulesError(file.error.issues.map((issue) => `${issue.path.length ? `${pathText(issue.path)}: ` : ''}${issue.message}`));

  const problems: string[] = [];
  const rules: TrustedPublisherRule[] = [];
  const names = new Map<string, number>();
  file.data.rules.forEach((raw, index) => {
    const rawName = (raw as { name?: unknown } | null)?.name;
    const label = `rules[${index}]${typeof rawName === 'string' ? ` (${JSON.stringify(rawName.slice(0, 100))})` : ''}`;
    const parsed = ruleSchema.safeParse(raw);
    const dropped = droppedClaimNames(raw).map((name) => `${label}: claims.${name}: ${CLAIM_NAME_MESSAGE}`);
    problems.push(...dropped);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${label}: ${issue.path.length ? `${pathText(issue.path)}: ` : ''}${issue.message}`);
      return;
    }
    if (dropped.length > 0) return;
    const rule = parsed.data;
    const earlier = names.get(rule.name);
    if (earlier !== undefined) problems.push(`${label}: name: also the name of rules[${earlier}]; names must be unique (identities name their rule)`);
    names.set(rule.name, index);
    rules.push({
      name: rule.name,
      issuer: rule.issuer,
      audience: rule.audience ?? defaultAudience,
      claims: rule.claims,
      scopes: new Set(rule.scopes),
      repositories: rule.repositories,
    });
  });
  if (problems.length > 0) throw new TrustedPublisherRulesError(problems);
  return new TrustedPublisherRules(rules);
}
