import { decodeJwt } from 'jose';
import type { NotedAuditTarget } from '../access/audit-target';
import type { Caller, CallerIdentity } from '../access/caller';
import { canonicalRepositoryName, parseOciReference, parseRepository } from '../registry/oci-reference';
import { apiKeyHint, isWellFormedApiKey, looksLikeApiKey } from './api-key-token';
import { JWT_SHAPE, MAX_CREDENTIAL_LENGTH } from './caller-authenticator';

/**
 * How an audit entry is derived from a request and its response: pure functions, no I/O. What is
 * recorded: who (the authenticated caller, or the kind of credential attempted), what (method, route,
 * action), which target, the outcome, the request id and the source address. Never a credential, and of
 * a body only the target's fields. Every text is bounded and stripped of control characters.
 */

/** The routes whose requests are audited. */
export const AUDITED_PREFIX = '/v1/';
const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Refused authentication (401), authorization (403) and rate limits (429): recorded for every method. */
const REFUSAL_STATUSES = new Set([401, 403, 429]);

/**
 * `pending`: the entry of a mutating request, written before its handler ran, with no outcome yet (the
 * request is running, or the process stopped before answering, or the outcome could not be written).
 */
export const AUDIT_OUTCOMES = ['pending', 'succeeded', 'refused', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Longest texts kept, in characters. */
export const AUDIT_TEXT_LIMITS = {
  path: 512,
  route: 300,
  action: 128,
  principal: 1100,
  name: 512,
  reference: 512,
  repository: 300,
  id: 128,
  requestId: 128,
  address: 64,
} as const;

/** Who, when authentication succeeded: the caller's identity, without the token claims an OIDC rule matched. */
export type AuditCaller = { kind: 'api-key'; keyId: string; name: string } | { kind: 'oidc'; issuer: string; subject: string; rule: string };

export const CREDENTIAL_KINDS = ['none', 'malformed', 'api-key', 'oidc-token', 'unrecognised'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/**
 * What was presented when no caller was authenticated: its kind and, at most, an API key's hint
 * (`wsk_Ab12`, as key listings show it) or a token's issuer as the token claims it (not verified).
 * `unrecognised`: a bearer credential that is neither (e.g. a wrong bootstrap key): nothing of it is kept.
 */
export interface AttemptedCredential {
  kind: CredentialKind;
  keyHint?: string;
  unverifiedIssuer?: string;
}

export interface AuditTarget {
  /** The repository, canonical (`host[:port]/path`, host lower-cased), when the request names one. */
  repository: string | null;
  /** The reference or repository as the caller gave it. */
  reference: string | null;
  /** The resource: the route's `:id`, or the id of what the request created. */
  id: string | null;
}

export interface AuditEntry {
  requestId: string;
  method: string;
  /** The route pattern (`/v1/api-keys/:id`); null for a path no route matched. */
  route: string | null;
  /** The path requested, without its query string. */
  path: string;
  action: string;
  callerPrincipal: string | null;
  caller: AuditCaller | null;
  credential: AttemptedCredential | null;
  target: AuditTarget;
  outcome: AuditOutcome;
  status: number | null;
  problemCode: string | null;
  sourceAddress: string;
}

/** What the audit log reads off a request (FastifyRequest, as plain data). */
export interface AuditRequest {
  method: string;
  /** The URL as requested, query string included. */
  url: string;
  /** The matched route pattern, undefined when none matched. */
  route: string | undefined;
  requestId: string;
  sourceAddress: string;
  authorization: string | string[] | undefined;
  /** The caller the authentication guard authenticated, if it did. */
  caller: Caller | undefined;
  params: unknown;
  query: unknown;
  body: unknown;
  notedTarget: NotedAuditTarget | undefined;
}

/** What the audit log reads off a response. */
export interface AuditResponse {
  status: number;
  contentType: string | undefined;
  /** The serialized body (onSend's payload): only a problem's code or a created resource's id are read. */
  payload: unknown;
}

export const requestPath = (url: string): string => {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
};

const isMutating = (method: string): boolean => MUTATING_METHODS.has(method.toUpperCase());

/**
 * Whether a request gets its entry before its handler runs: a mutating request to a /v1 route. A
 * request that fails before (no route, no credential, a body that does not parse) cannot change anything.
 */
export const needsEntryBeforeHandler = (method: string, url: string, route: string | undefined): boolean =>
  route !== undefined && requestPath(url).startsWith(AUDITED_PREFIX) && isMutating(method);

/**
 * Whether a response is recorded: every mutating request to a /v1 route, whatever its outcome, and
 * every refusal (401, 403, 429) under /v1, whatever its method. A mutating request to a path no route
 * matches (404) changed nothing and named no route: it is not recorded.
 */
export const needsEntryForResponse = (method: string, url: string, route: string | undefined, status: number): boolean =>
  requestPath(url).startsWith(AUDITED_PREFIX) && ((route !== undefined && isMutating(method)) || REFUSAL_STATUSES.has(status));

export function auditOutcome(status: number): Exclude<AuditOutcome, 'pending'> {
  if (REFUSAL_STATUSES.has(status)) return 'refused';
  return status < 400 ? 'succeeded' : 'failed';
}

// Control characters (C0, DEL, C1) and lone surrogates: PostgreSQL text takes no NUL, and logs and
// terminals showing an entry should not be driven by what a caller sent.
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The text with control characters replaced and cut to `max` characters (an ellipsis says it was). */
export function boundedText(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max - 1).replace(/[\ud800-\udbff]$/, '')}…` : text;
  return cut.replace(UNSAFE_CHARACTERS, '\ufffd');
}

/** The kind of credential an unauthenticated request presented, and at most its hint or claimed issuer. */
export function describeCredential(authorization: string | string[] | undefined): AttemptedCredential {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  // The same reading as CallerAuthenticator's.
  const credential = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (!credential || credential.length > MAX_CREDENTIAL_LENGTH) return { kind: 'malformed' };
  if (looksLikeApiKey(credential)) return isWellFormedApiKey(credential) ? { kind: 'api-key', keyHint: apiKeyHint(credential) } : { kind: 'api-key' };
  if (JWT_SHAPE.test(credential)) {
    const issuer = claimedIssuer(credential);
    return issuer === undefined ? { kind: 'oidc-token' } : { kind: 'oidc-token', unverifiedIssuer: issuer };
  }
  return { kind: 'unrecognised' };
}

/** The `iss` claim of a compact JWS, read without verifying anything (only to say who the token claims to come from). */
function claimedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' && iss !== '' ? boundedText(iss, AUDIT_TEXT_LIMITS.name) : undefined;
  } catch {
    return undefined;
  }
}

export function auditCaller(identity: CallerIdentity): AuditCaller {
  const text = (value: string) => boundedText(value, AUDIT_TEXT_LIMITS.name);
  return identity.kind === 'api-key'
    ? { kind: 'api-key', keyId: boundedText(identity.keyId, AUDIT_TEXT_LIMITS.id), name: text(identity.name) }
    : { kind: 'oidc', issuer: text(identity.issuer), subject: text(identity.subject), rule: text(identity.rule) };
}

/** A non-empty string field of a parsed JSON body, the query or the route parameters. */
function field(source: unknown, name: string): string | undefined {
  if (!source || typeof source !== 'object' || Array.isArray(source) || Buffer.isBuffer(source)) return undefined;
  // A raw upload's body is a stream, left unread.
  if (typeof (source as { pipe?: unknown }).pipe === 'function') return undefined;
  const value = Object.prototype.hasOwnProperty.call(source, name) ? (source as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Parsing takes at most this much of a caller's text (references are at most 255 characters of path, a tag and a digest). */
const MAX_PARSED_REFERENCE = 1024;

function canonicalRepository(reference: string | undefined, repository: string | undefined): string | undefined {
  try {
    if (reference !== undefined && reference.length <= MAX_PARSED_REFERENCE) return canonicalRepositoryName(parseOciReference(reference));
    if (repository !== undefined && repository.length <= MAX_PARSED_REFERENCE) return canonicalRepositoryName(parseRepository(repository));
  } catch {
    // Not a valid reference: the entry keeps the text as given, without a repository.
  }
  return undefined;
}

/** What the request acts on: a repository or reference from its body, query or the route's note, and the route's `:id`. */
export function requestTarget(request: Pick<AuditRequest, 'params' | 'query' | 'body' | 'notedTarget'>): AuditTarget {
  const from = (name: 'reference' | 'repository') => request.notedTarget?.[name] ?? field(request.body, name) ?? field(request.query, name);
  const reference = from('reference');
  const repository = from('repository');
  const given = reference ?? repository;
  const repositoryName = canonicalRepository(reference, repository);
  const id = field(request.params, 'id');
  return {
    repository: repositoryName === undefined ? null : boundedText(repositoryName, AUDIT_TEXT_LIMITS.repository),
    reference: given === undefined ? null : boundedText(given, AUDIT_TEXT_LIMITS.reference),
    id: id === undefined ? null : boundedText(id, AUDIT_TEXT_LIMITS.id),
  };
}

/** The entry of a request, before its outcome is known. */
export function requestEntry(request: AuditRequest, action: string): AuditEntry {
  return {
    requestId: boundedText(request.requestId, AUDIT_TEXT_LIMITS.requestId),
    method: boundedText(request.method.toUpperCase(), 16),
    route: request.route === undefined ? null : boundedText(request.route, AUDIT_TEXT_LIMITS.route),
    path: boundedText(requestPath(request.url), AUDIT_TEXT_LIMITS.path),
    action: boundedText(action, AUDIT_TEXT_LIMITS.action),
    callerPrincipal: request.caller ? boundedText(request.caller.principal, AUDIT_TEXT_LIMITS.principal) : null,
    caller: request.caller ? auditCaller(request.caller.identity) : null,
    credential: request.caller ? null : describeCredential(request.authorization),
    target: requestTarget(request),
    outcome: 'pending',
    status: null,
    problemCode: null,
    sourceAddress: boundedText(request.sourceAddress, AUDIT_TEXT_LIMITS.address),
  };
}

/** Bodies read for a problem code or a created id are small; a larger one is not parsed. */
const MAX_PARSED_BODY = 64 * 1024;
const PROBLEM_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function jsonObject(payload: unknown): Record<string, unknown> | undefined {
  const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
  if (text === undefined || text.length > MAX_PARSED_BODY) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The entry of a request with its response: the outcome, the problem's code on an error, and the
 * target completed from the response (the repository a REPOSITORY_NOT_ALLOWED problem names, the id of
 * what a request created). Nothing else of the response is kept: a created API key or webhook secret is
 * in the same body.
 */
export function responseEntry(request: AuditRequest, action: string, response: AuditResponse): AuditEntry {
  const entry = requestEntry(request, action);
  const type = (response.contentType ?? '').toLowerCase();
  const body = type.includes('json') ? jsonObject(response.payload) : undefined;
  let problemCode: string | null = null;
  const target = { ...entry.target };
  if (response.status >= 400 && type.startsWith('application/problem+json') && body) {
    if (typeof body.code === 'string' && PROBLEM_CODE.test(body.code)) problemCode = body.code;
    if (target.repository === null && typeof body.repository === 'string') target.repository = boundedText(body.repository, AUDIT_TEXT_LIMITS.repository);
  }
  if (response.status >= 200 && response.status < 300 && target.id === null && body && typeof body.id === 'string' && RESOURCE_ID.test(body.id)) {
    target.id = body.id;
  }
  return { ...entry, target, outcome: auditOutcome(response.status), status: response.status, problemCode };
}
