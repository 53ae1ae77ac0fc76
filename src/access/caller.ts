import type { RepositoryPatterns } from './repository-patterns';
import { type Scope, scopeAllows } from './scopes';

/**
 * Who made a request, as records and signed payloads name them: an API key (its id and name), or a CI or
 * workload OIDC token (its issuer and subject, the trusted-publisher rule that admitted it and the claims
 * that rule matched). Plain data: it is stored with jobs and signature records, never with a credential.
 */
export type CallerIdentity = { kind: 'api-key'; keyId: string; name: string } | { kind: 'oidc'; issuer: string; subject: string; rule: string; claims: Record<string, string> };

/** An authenticated caller: who, what it may do, and where. */
export interface Caller {
  /** Stable, unique name of the caller: `api-key:<id>` or `oidc:<issuer>#<subject>`; owns jobs and subscriptions. */
  readonly principal: string;
  readonly identity: CallerIdentity;
  readonly scopes: ReadonlySet<Scope>;
  readonly repositories: RepositoryPatterns;
}

/**
 * The annotation key under which signed payloads carry the requesting caller: in the cosign classic
 * payload's `optional` map and in the in-toto statement's subject annotations, where cosign puts `-a`
 * annotations. A verification policy's `annotations` can require it.
 */
export const REQUESTED_BY_ANNOTATION = 'dev.wasm-signer.requested-by';

export function callerPrincipal(identity: CallerIdentity): string {
  return identity.kind === 'api-key' ? `api-key:${identity.keyId}` : `oidc:${identity.issuer}#${identity.subject}`;
}

/** The annotations a signature made on the caller's behalf carries. */
export function requestedByAnnotations(identity: CallerIdentity): Record<string, string> {
  return { [REQUESTED_BY_ANNOTATION]: callerPrincipal(identity) };
}

export const callerMay = (caller: Caller, scope: Scope): boolean => scopeAllows(caller.scopes, scope);

/** Whether the caller sees a resource owned by `owner` (its own, or everything for admins). */
export const callerOwns = (caller: Caller, owner: string | null): boolean => caller.scopes.has('admin') || owner === caller.principal;
