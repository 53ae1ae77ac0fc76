import { accessProblems } from './access-problems';
import type { Caller } from './caller';

/**
 * Refuses (403 REPOSITORY_NOT_ALLOWED) a repository the caller's patterns do not match. Request services
 * call it with the canonical name of the parsed reference (`canonicalRepositoryName`) before anything is
 * queued or any registry is contacted.
 */
export function assertRepositoryAllowed(caller: Caller, canonicalName: string): void {
  if (!caller.repositories.allows(canonicalName)) throw accessProblems.repositoryNotAllowed(canonicalName);
}
