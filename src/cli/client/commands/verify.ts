import { keyValues, oneOf, type CommandSpec, type OptionValues } from '../command-line';
import type { CommandContext } from '../context';
import { ExitCode, UsageError } from '../exit-codes';
import { printVerification, type VerificationView } from '../output';

/** cosign's policy flags, and the service's extras. */
export const POLICY_OPTIONS = {
  'certificate-identity': { type: 'string' },
  'certificate-identity-regexp': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'certificate-oidc-issuer-regexp': { type: 'string' },
  annotation: { type: 'string', short: 'a', multiple: true },
  'trust-root': { type: 'string' },
  'max-age': { type: 'string' },
} as const;

export const POLICY_OPTIONS_HELP = `  --certificate-identity ID           the signer's identity, exactly (or:)
  --certificate-identity-regexp RE    a regular expression (RE2) the whole identity matches
  --certificate-oidc-issuer URL       the identity's OIDC issuer, exactly (or:)
  --certificate-oidc-issuer-regexp RE a regular expression the whole issuer matches
  -a, --annotation K=V                an annotation the signed payload must carry (repeat for more)
  --trust-root NAME                   a trust root the service knows (default: its default)
  --max-age SECONDS                   accept a cached verdict only this fresh`;

/** Both halves of the policy are required (as cosign requires them); each once. */
export function checkPolicyOptions(values: OptionValues): void {
  oneOf(values, 'certificate-identity', 'certificate-identity-regexp');
  oneOf(values, 'certificate-oidc-issuer', 'certificate-oidc-issuer-regexp');
  keyValues(values, 'annotation');
  const maxAge = values['max-age'] as string | undefined;
  if (maxAge !== undefined && !/^\d{1,9}$/.test(maxAge)) throw new UsageError(`--max-age takes a whole number of seconds, not ${JSON.stringify(maxAge)}`);
}

/** The body of POST /v1/verifications for `reference` and the policy options. */
export function verificationRequest(reference: string, values: OptionValues): Record<string, unknown> {
  const identity = oneOf(values, 'certificate-identity', 'certificate-identity-regexp');
  const issuer = oneOf(values, 'certificate-oidc-issuer', 'certificate-oidc-issuer-regexp');
  const annotations = keyValues(values, 'annotation');
  const policy: Record<string, unknown> = {
    ...(identity.exact !== undefined ? { certificateIdentity: identity.exact } : { certificateIdentityRegExp: identity.regexp }),
    ...(issuer.exact !== undefined ? { certificateOidcIssuer: issuer.exact } : { certificateOidcIssuerRegExp: issuer.regexp }),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  return {
    reference,
    policy,
    ...(values['trust-root'] ? { trustRoot: values['trust-root'] } : {}),
    ...(values['max-age'] !== undefined ? { maxAge: Number(values['max-age']) } : {}),
  };
}

export async function verifyThroughService(context: CommandContext, reference: string, values: OptionValues): Promise<VerificationView> {
  return context.client.json<VerificationView>('POST', 'v1/verifications', { json: verificationRequest(reference, values) });
}

/** `verify`: POST /v1/verifications; exit 1 when the artifact does not satisfy the policy. */
export const verifyCommand: CommandSpec<CommandContext> = {
  words: ['verify'],
  usage: 'verify REFERENCE --certificate-identity[-regexp] … --certificate-oidc-issuer[-regexp] …',
  summary: 'verify every signature of an artifact in its registry against an identity policy (both formats)',
  optionsHelp: POLICY_OPTIONS_HELP,
  options: { ...POLICY_OPTIONS },
  positionals: ['REFERENCE'],
  check: checkPolicyOptions,
  async run(context, { values, positionals }) {
    const verification = await verifyThroughService(context, positionals[0]!, values);
    printVerification(context, verification);
    return verification.verified ? ExitCode.Done : ExitCode.Failed;
  },
};
