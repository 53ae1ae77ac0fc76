import { CodedError, errorCodes } from '../common/coded-error';

/**
 * Why a git source is refused or could not be fetched.
 *
 * Refused when the build is requested (parseGitSource; the API answers 4xx): GIT_SOURCES_DISABLED (no
 * host allowed at all), GIT_URL_INVALID, GIT_HOST_NOT_ALLOWED, GIT_COMMIT_NOT_FULL.
 *
 * Failed while fetching (fetchGitSource, in the build worker): GIT_ADDRESS_REFUSED (the host resolves
 * to an internal address), GIT_FETCH_FAILED (transient when the server is unreachable or answers 5xx,
 * permanent otherwise), GIT_COMMIT_NOT_FOUND, GIT_SOURCE_TOO_LARGE, GIT_FETCH_TIMEOUT (transient),
 * GIT_LINK_ESCAPES (a symbolic link in the commit leaves the tree or loops).
 */
export const GIT_SOURCE_ERROR_CODES = errorCodes(
  'GIT_SOURCES_DISABLED',
  'GIT_URL_INVALID',
  'GIT_HOST_NOT_ALLOWED',
  'GIT_COMMIT_NOT_FULL',
  'GIT_ADDRESS_REFUSED',
  'GIT_FETCH_FAILED',
  'GIT_COMMIT_NOT_FOUND',
  'GIT_SOURCE_TOO_LARGE',
  'GIT_FETCH_TIMEOUT',
  'GIT_LINK_ESCAPES',
);
export type GitSourceErrorCode = keyof typeof GIT_SOURCE_ERROR_CODES;

export class GitSourceError extends CodedError<GitSourceErrorCode> {
  constructor(code: GitSourceErrorCode, message: string, options: { transient?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'GitSourceError';
  }
}
