import { Inject, Injectable, Logger } from '@nestjs/common';
import { accessProblems } from '../access/access-problems';
import { type Caller, callerPrincipal } from '../access/caller';
import { ProblemError } from '../common/problem';
import { ConfigError } from '../config/config-error';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { OidcTokenVerifier, readUnverifiedToken, shownIssuer, type VerifiedToken } from './oidc-token-verifier';
import { type RulesFileChange, TrustedPublisherRulesFile } from './trusted-publisher-rules-file';
import { type RuleMatch, type TrustedPublisherRules, TrustedPublisherRulesError } from './trusted-publisher-rules';
import { TokenVerificationError } from './token-verification-error';

export const RULES_FILE_VARIABLE = 'TRUSTED_PUBLISHERS_FILE';

/**
 * CI and workload OIDC tokens ("trusted publishers"): a token from an issuer some rule names, for this
 * service's audience, verified against the issuer's published keys and admitted by the first rule whose
 * claims it matches (trusted-publisher-rules.ts). The caller is then `oidc:<issuer>#<subject>` with the
 * rule's scopes and repository patterns, and its identity names the rule and the claims it matched.
 *
 * Refusals: 401 with a TOKEN_… code for the token's faults, 403 NO_MATCHING_PUBLISHER_RULE for a good
 * token no rule admits, 503 when the issuer's keys or the rules file cannot be had. The token itself is
 * never logged nor echoed.
 */
@Injectable()
export class TrustedPublishers {
  private readonly logger = new Logger('trusted-publishers');
  private readonly rulesFile: { current(): Promise<TrustedPublisherRules> };
  private readonly verifier: OidcTokenVerifier;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const settings = config.auth.trustedPublishers;
    this.verifier = new OidcTokenVerifier({
      timeoutMs: settings.issuerTimeoutMs,
      onStaleDiscovery: (issuer, error) => this.logger.warn({ issuer, reason: error.message }, 'OIDC discovery failed; the jwks_uri found before stays in use'),
    });
    if (!settings.file) {
      this.rulesFile = TrustedPublisherRulesFile.none();
      return;
    }
    const file = openRulesFile(settings.file, settings.audience, (change) => this.rulesChanged(file, change));
    this.rulesFile = file;
    this.logger.log({ file: file.path, rules: file.rulesInForce?.rules.map((rule) => rule.name) }, 'trusted-publisher rules loaded');
  }

  async authenticate(token: string): Promise<Caller> {
    try {
      const { issuer } = readUnverifiedToken(token);
      const rules = await this.rules();
      if (!rules.trusts(issuer)) {
        throw new TokenVerificationError('TOKEN_ISSUER_NOT_TRUSTED', `no trusted-publisher rule names the token's issuer ${shownIssuer(issuer)} (${RULES_FILE_VARIABLE})`);
      }
      const verified = await this.verifier.verify(token, { issuer, audiences: rules.audiencesOf(issuer) });
      const match = rules.match(verified);
      if (!match) {
        this.logger.log({ issuer, subject: verified.subject, rules: rules.mismatches(verified) }, 'a verified token matches no trusted-publisher rule');
        throw new ProblemError(
          403,
          'NO_MATCHING_PUBLISHER_RULE',
          'Not allowed',
          `the token is valid, but no trusted-publisher rule admits it (issuer ${issuer}, subject ${JSON.stringify(verified.subject.slice(0, 200))}): its claims (repository, ref…) are not those a rule names`,
          { issuer },
        );
      }
      return oidcCaller(verified, match);
    } catch (error) {
      if (error instanceof TokenVerificationError) throw tokenProblem(error);
      throw error;
    }
  }

  private async rules(): Promise<TrustedPublisherRules> {
    try {
      return await this.rulesFile.current();
    } catch (error) {
      if (!(error instanceof TrustedPublisherRulesError)) throw error;
      throw new ProblemError(
        503,
        'TRUSTED_PUBLISHER_RULES_INVALID',
        'Trusted-publisher rules unavailable',
        `the trusted-publisher rules file (${RULES_FILE_VARIABLE}) changed and cannot be used; OIDC tokens are refused until it is fixed (the service log names the problems). API keys still work.`,
      );
    }
  }

  private rulesChanged(file: TrustedPublisherRulesFile, change: RulesFileChange): void {
    if (change.rules) {
      this.verifier.retainIssuers(change.rules.issuers);
      this.logger.log({ file: file.path, rules: change.rules.rules.map((rule) => rule.name) }, 'trusted-publisher rules changed; in force from this request on');
    } else {
      this.logger.error({ file: file.path, problems: change.problems }, 'trusted-publisher rules file changed and cannot be used: every OIDC token is refused until it is fixed');
    }
  }
}

/**
 * Checks the rules file the configuration names, as the service will read it: main.ts calls it before
 * the application is built, so that a bad rule stops the process with a ConfigError naming it.
 */
export function checkTrustedPublishersFile(config: AppConfig): void {
  const { file, audience } = config.auth.trustedPublishers;
  if (file) openRulesFile(file, audience);
}

function openRulesFile(path: string, audience: string, onChange?: (change: RulesFileChange) => void): TrustedPublisherRulesFile {
  try {
    return TrustedPublisherRulesFile.open(path, audience, onChange);
  } catch (error) {
    if (!(error instanceof TrustedPublisherRulesError)) throw error;
    throw new ConfigError(error.problems.map((message) => ({ variable: RULES_FILE_VARIABLE, message })));
  }
}

/** The caller a rule admits: the token's issuer and subject, with the rule's scopes and repositories. */
export function oidcCaller(token: VerifiedToken, match: RuleMatch): Caller {
  const identity = { kind: 'oidc', issuer: token.issuer, subject: token.subject, rule: match.rule.name, claims: match.claims } as const;
  return { principal: callerPrincipal(identity), identity, scopes: match.rule.scopes, repositories: match.rule.repositories };
}

function tokenProblem(error: TokenVerificationError): ProblemError {
  if (error.code === 'OIDC_ISSUER_UNAVAILABLE') return new ProblemError(503, error.code, 'The token issuer is unavailable', error.message);
  return accessProblems.unauthenticated(error.code, error.message);
}
