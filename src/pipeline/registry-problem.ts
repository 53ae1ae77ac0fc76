import { ProblemError } from '../common/problem';
import { RegistryError, RegistryErrorCode } from '../registry/registry-error';

/**
 * (At the edge, beside the request services that share it: the registry library itself makes no HTTP problems.)
 *
 * A registry failure met while serving a request, as the caller should see it. A 5xx means the registry
 * (a dependency) failed, and the code says how; a 4xx means the request asked for something the registry
 * cannot give, and retrying the same request will not help:
 *
 * - 403: this service may not use that registry: it is not in REGISTRY_ALLOWED_HOSTS (REGISTRY_NOT_ALLOWED),
 *   or it is at an internal address REGISTRY_PRIVATE_ALLOWLIST does not allow (REGISTRY_ADDRESS_REFUSED).
 * - 404: the repository or manifest does not exist.
 * - 422: the registry refused the request — it requires credentials this service has not got or does not
 *   accept for this repository (401 REGISTRY_UNAUTHORIZED), denies access to it (403 REGISTRY_FORBIDDEN),
 *   or rejected the content (REGISTRY_REJECTED, …). Choose another repository, or ask the operator for access.
 * - 502: the registry answered wrongly or its host cannot be used: TLS failure, host name that does not
 *   resolve, protocol violation.
 * - 503: the registry is unavailable now (connection refused or reset, its own 5xx, throttling); retry later.
 * - 504: the registry did not answer within REGISTRY_TIMEOUT_MS.
 *
 * Other errors pass unchanged. The problem names the registry in `registry`.
 */
const STATUS: Partial<Record<RegistryErrorCode, { status: number; title: string }>> = {
  REGISTRY_NOT_ALLOWED: { status: 403, title: 'This registry may not be used' },
  REGISTRY_ADDRESS_REFUSED: { status: 403, title: 'This registry may not be used' },
  REPOSITORY_NOT_FOUND: { status: 404, title: 'Not found in the registry' },
  MANIFEST_NOT_FOUND: { status: 404, title: 'Not found in the registry' },
  REGISTRY_TLS_ERROR: { status: 502, title: 'The registry connection failed' },
  REGISTRY_DNS_FAILURE: { status: 502, title: 'The registry host cannot be resolved' },
  REGISTRY_PROTOCOL_ERROR: { status: 502, title: 'The registry answered wrongly' },
  DIGEST_MISMATCH: { status: 502, title: 'The registry answered wrongly' },
  REGISTRY_UNREACHABLE: { status: 503, title: 'The registry is unavailable' },
  REGISTRY_UNAVAILABLE: { status: 503, title: 'The registry is unavailable' },
  REGISTRY_THROTTLED: { status: 503, title: 'The registry is throttling requests' },
  REGISTRY_TIMEOUT: { status: 504, title: 'The registry did not answer in time' },
};

export function registryProblem(error: unknown): Error {
  if (!(error instanceof RegistryError)) return error as Error;
  const known = STATUS[error.code];
  const { status, title } = known ?? (error.transient ? { status: 503, title: 'The registry is unavailable' } : { status: 422, title: 'The registry refused the request' });
  const extensions: Record<string, unknown> = {};
  if (error.registry !== undefined) extensions.registry = error.registry;
  if (error.retryAfterMs !== undefined) extensions.retryAfterSeconds = Math.ceil(error.retryAfterMs / 1000);
  return new ProblemError(status, error.code, title, error.message, extensions);
}

/** How the API description names the 403 of a request whose registry the egress policy refuses. */
export const REGISTRY_REFUSAL_DESCRIPTION =
  'REGISTRY_NOT_ALLOWED (the registry is not in REGISTRY_ALLOWED_HOSTS), REGISTRY_ADDRESS_REFUSED (the registry is at a loopback, private, link-local, metadata or other internal address REGISTRY_PRIVATE_ALLOWLIST does not allow)';
