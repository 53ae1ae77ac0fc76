import { ProblemError } from '../common/problem';
import { RegistryError } from './registry-error';

/**
 * A registry failure met while serving a request, as the caller should see it: unavailable (503, retry
 * later), not there (404), or refused (422, with the registry's reason). Other errors pass unchanged.
 */
export function registryProblem(error: unknown): Error {
  if (!(error instanceof RegistryError)) return error as Error;
  if (error.transient) return new ProblemError(503, error.code, 'The registry is unavailable', error.message);
  if (error.code === 'REPOSITORY_NOT_FOUND' || error.code === 'MANIFEST_NOT_FOUND') return new ProblemError(404, error.code, 'Not found in the registry', error.message);
  return new ProblemError(422, error.code, 'The registry refused the request', error.message);
}
