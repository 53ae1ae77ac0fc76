import { accessProblems } from './access-problems';
import type { Caller } from './caller';
import { canonicalRepositoryName } from './repository-patterns';

/**
 * Refuses (403 REPOSITORY_NOT_ALLOWED) a repository the caller's patterns do not match. Request services
 * call it with the parsed reference before anything is queued or any registry is contacted.
 */
export function assertRepositoryAllowed(caller: Caller, repository: { registry: string; repository: string }): void {
  if (!caller.repositories.allows(repository)) throw accessProblems.repositoryNotAllowed(canonicalRepositoryName(repository));
}
