import { ProblemError } from '../common/problem';
import type { Scope } from './scopes';

/** The realm named in WWW-Authenticate challenges (RFC 6750). */
const CHALLENGE = 'Bearer realm="wasm-signer"';

/**
 * Refused authentication (401, with a Bearer challenge) and authorization (403). Codes are stable; the
 * detail says what to change, never echoes the credential.
 */
export const accessProblems = {
  unauthenticated: (code: string, detail: string) =>
    new ProblemError(401, code, 'Authentication required', detail, {}, { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` }),
  credentialMissing: () =>
    new ProblemError(
      401,
      'CREDENTIAL_MISSING',
      'Authentication required',
      'Send Authorization: Bearer <API key or OIDC token>; /v1 routes need a credential',
      {},
      { 'www-authenticate': CHALLENGE },
    ),
  scopeMissing: (needed: Scope) =>
    new ProblemError(
      403,
      'SCOPE_MISSING',
      'Not allowed',
      `this request needs the scope ${needed}, which the credential does not grant`,
      { requiredScope: needed },
      {
        'www-authenticate': `${CHALLENGE}, error="insufficient_scope", scope="${needed}"`,
      },
    ),
  repositoryNotAllowed: (repository: string) =>
    new ProblemError(403, 'REPOSITORY_NOT_ALLOWED', 'Not allowed in this repository', `the credential's repository patterns do not allow ${repository}`, { repository }),
};
