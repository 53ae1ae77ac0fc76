import { CodedError, errorCodes } from '../common/coded-error';
import { EgressRefusedError } from './registry-egress-policy';
import { parseRetryAfter } from './retry-after';

/**
 * How registry failures reach their callers: every failure is a RegistryError, a CodedError whose
 * `transient` flag tells the pipeline whether re-running the step can help (throttling, 5xx, network) or
 * not (authentication, permissions, bad content). The HTTP status is kept as data (the edge maps it to
 * a problem); retry decisions never read it. The client never retries on its own beyond the auth
 * handshake and the referrers-tag update loop. Messages name the registry, the repository and the
 * operation, never a credential.
 */

/** Every code a registry failure carries (and RESERVED_TAG: a write the client refuses to make). */
export const REGISTRY_ERROR_CODES = errorCodes(
  'REGISTRY_UNAUTHORIZED',
  'REGISTRY_FORBIDDEN',
  'REPOSITORY_NOT_FOUND',
  'MANIFEST_NOT_FOUND',
  'REGISTRY_REJECTED',
  'REGISTRY_PRECONDITION_FAILED',
  'REGISTRY_BLOB_NOT_VISIBLE',
  'REGISTRY_THROTTLED',
  'REGISTRY_UNAVAILABLE',
  'REGISTRY_UNREACHABLE',
  'REGISTRY_DNS_FAILURE',
  'REGISTRY_TIMEOUT',
  'REGISTRY_PORT_BLOCKED',
  'REGISTRY_TLS_ERROR',
  'REGISTRY_PROTOCOL_ERROR',
  'DIGEST_MISMATCH',
  'UPLOAD_TOO_LARGE',
  'MANIFEST_TOO_LARGE',
  'BLOB_TOO_LARGE',
  'REFERRERS_TAG_INVALID',
  'INVALID_REFERRER',
  'RESERVED_TAG',
  'REGISTRY_NOT_ALLOWED',
  'REGISTRY_ADDRESS_REFUSED',
);
export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

/** One entry of the distribution spec's error body `{"errors":[{"code","message","detail"}]}`. */
export interface RegistryErrorDetail {
  code: string;
  message?: string;
}

/** What a failing request was doing, for the message. */
export interface RegistryRequestContext {
  registry: string;
  repository?: string;
  /** e.g. `PUT manifest sha256:…`, `GET token` */
  operation: string;
  credentialsConfigured: boolean;
}

export interface RegistryErrorOptions {
  transient: boolean;
  retryAfterMs?: number;
  status?: number;
  registry?: string;
  repository?: string;
  details?: RegistryErrorDetail[];
  cause?: unknown;
}

export class RegistryError extends CodedError<RegistryErrorCode> {
  /** The registry's HTTP status, when it answered: data for the edge's problem, never a retry decision. */
  readonly status?: number;
  readonly registry?: string;
  readonly repository?: string;
  /** The registry's own error codes and messages, when it sent any. */
  readonly details: RegistryErrorDetail[];

  constructor(code: RegistryErrorCode, message: string, options: RegistryErrorOptions) {
    super(code, message, { transient: options.transient, retryAfterMs: options.retryAfterMs, cause: options.cause });
    this.name = 'RegistryError';
    this.status = options.status;
    this.registry = options.registry;
    this.repository = options.repository;
    this.details = options.details ?? [];
  }
}

const MAX_DETAILS = 3;
const MAX_DETAIL_MESSAGE = 200;

/** Reads the `errors` array of a registry's JSON error body; anything else yields no details. */
export function parseRegistryErrorBody(body: string): RegistryErrorDetail[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors)) return [];
  const details: RegistryErrorDetail[] = [];
  for (const entry of errors.slice(0, MAX_DETAILS)) {
    const code = (entry as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || code === '') continue;
    const message = (entry as { message?: unknown }).message;
    details.push(
      typeof message === 'string' && message !== ''
        ? { code: code.slice(0, 64), message: message.length > MAX_DETAIL_MESSAGE ? `${message.slice(0, MAX_DETAIL_MESSAGE)}…` : message }
        : { code: code.slice(0, 64) },
    );
  }
  return details;
}

const where = (context: RegistryRequestContext): string => (context.repository ? `${context.registry}/${context.repository}` : context.registry);

/** Classifies a non-success HTTP answer. `body` is the (bounded) response text, empty for HEAD. */
export function registryErrorFromStatus(context: RegistryRequestContext, status: number, headers: Headers, body: string, now: number = Date.now()): RegistryError {
  const details = parseRegistryErrorBody(body);
  const said = details.length > 0 ? `: ${details.map((d) => (d.message ? `${d.code} ${d.message}` : d.code)).join('; ')}` : '';
  const http = `HTTP ${status}${said}`;
  const base = { status, registry: context.registry, repository: context.repository, details };
  const codes = new Set(details.map((d) => d.code));
  const { registry, repository, operation } = context;
  const subject = repository ? `repository ${repository}` : 'this request';

  if (status === 401) {
    const note = context.credentialsConfigured ? `the credentials configured for ${registry} were not accepted` : `no credentials are configured for ${registry}`;
    return new RegistryError('REGISTRY_UNAUTHORIZED', `Registry ${registry} requires authentication for ${subject} (${operation}: ${http}); ${note}.`, {
      ...base,
      transient: false,
    });
  }
  if (status === 403) {
    const note = context.credentialsConfigured ? `the credentials configured for ${registry} lack permission` : `no credentials are configured for ${registry}`;
    return new RegistryError('REGISTRY_FORBIDDEN', `Registry ${registry} denied access to ${subject} (${operation}: ${http}); ${note}.`, {
      ...base,
      transient: false,
    });
  }
  if (status === 404 && codes.has('NAME_UNKNOWN')) {
    return new RegistryError('REPOSITORY_NOT_FOUND', `Repository ${where(context)} does not exist (${operation}: ${http}).`, {
      ...base,
      transient: false,
    });
  }
  if (status === 404 && codes.has('MANIFEST_UNKNOWN')) {
    return new RegistryError('MANIFEST_NOT_FOUND', `No such manifest in ${where(context)} (${operation}: ${http}).`, { ...base, transient: false });
  }
  if (status === 400 && codes.has('MANIFEST_BLOB_UNKNOWN')) {
    // A blob the manifest names is not visible in the repository. Seen with distribution when another
    // upload of the same blob to the same repository commits at that moment (two builds publishing the
    // same component): a moment later it is there. Retried; a blob that is really missing fails the
    // step once its attempts are spent, with this code.
    return new RegistryError('REGISTRY_BLOB_NOT_VISIBLE', `Registry ${registry} does not see a blob the manifest names in ${where(context)} yet (${operation}: ${http}).`, {
      ...base,
      transient: true,
    });
  }
  if (status === 412) {
    // A conditional write lost a race with another writer: re-reading and re-running the step helps.
    return new RegistryError('REGISTRY_PRECONDITION_FAILED', `${where(context)} changed while it was being updated (${operation}: ${http}).`, { ...base, transient: true });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now);
    return new RegistryError('REGISTRY_THROTTLED', `Registry ${registry} is throttling requests (${operation} on ${where(context)}: ${http})${retryHint(retryAfterMs)}.`, {
      ...base,
      transient: true,
      retryAfterMs,
    });
  }
  if (status >= 500 || status === 408) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now);
    return new RegistryError('REGISTRY_UNAVAILABLE', `Registry ${registry} is unavailable (${operation} on ${where(context)}: ${http})${retryHint(retryAfterMs)}.`, {
      ...base,
      transient: true,
      retryAfterMs,
    });
  }
  return new RegistryError('REGISTRY_REJECTED', `Registry ${registry} rejected ${operation} on ${where(context)} (${http}).`, {
    ...base,
    transient: false,
  });
}

const retryHint = (retryAfterMs: number | undefined): string => (retryAfterMs === undefined ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`);

/** Certificate-verification failures reported by Node's TLS layer (OpenSSL X509 verify codes). */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** getaddrinfo failures: the name does not resolve (now). */
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

interface Failure {
  code?: string;
  message: string;
}

/** The error and its causes (fetch wraps the socket error in `cause`; happy-eyeballs in an AggregateError). */
function failures(error: unknown, depth = 0): Failure[] {
  if (depth > 5 || error === null || typeof error !== 'object') return [];
  const found: Failure[] = [];
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  found.push({ code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : '' });
  if (Array.isArray(errors)) for (const inner of errors) found.push(...failures(inner, depth + 1));
  if (cause !== undefined) found.push(...failures(cause, depth + 1));
  return found;
}

const isTlsFailure = (failure: Failure): boolean =>
  (failure.code !== undefined && (TLS_CODES.has(failure.code) || failure.code.startsWith('ERR_SSL_') || failure.code.startsWith('ERR_TLS_'))) ||
  (failure.code === 'EPROTO' && /SSL|TLS/i.test(failure.message));

/** The egress refusal among an error and its causes, if the connection was refused by the policy. */
function egressRefusal(error: unknown, depth = 0): EgressRefusedError | undefined {
  if (error instanceof EgressRefusedError) return error;
  if (depth > 5 || error === null || typeof error !== 'object') return undefined;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = egressRefusal(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** A connection the egress policy refused: permanent, the same request is refused again. */
export function registryAddressRefused(context: RegistryRequestContext, refusal: EgressRefusedError): RegistryError {
  return new RegistryError('REGISTRY_ADDRESS_REFUSED', `Refused to connect to ${refusal.host} for registry ${context.registry} (${context.operation}): ${refusal.message}.`, {
    transient: false,
    registry: context.registry,
    repository: context.repository,
    cause: refusal,
  });
}

/** A registry callers may not name: permanent. */
export function registryNotAllowed(context: RegistryRequestContext): RegistryError {
  return new RegistryError(
    'REGISTRY_NOT_ALLOWED',
    `Registry ${context.registry} is not one this service may use (REGISTRY_ALLOWED_HOSTS); name a repository in an allowed registry.`,
    {
      transient: false,
      registry: context.registry,
      repository: context.repository,
    },
  );
}

/** Classifies an error thrown by fetch itself: no HTTP answer was received. */
export function registryErrorFromNetworkFailure(context: RegistryRequestContext, error: unknown): RegistryError {
  const refusal = egressRefusal(error);
  if (refusal) return registryAddressRefused(context, refusal);
  const chain = failures(error);
  const base = { registry: context.registry, repository: context.repository, cause: error };
  const tls = chain.find(isTlsFailure);
  if (tls) {
    const plainHttp = tls.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(tls.message);
    const hint = plainHttp ? ` The registry seems to speak plain http: if that is intended, list ${context.registry} in the insecure registry hosts.` : '';
    return new RegistryError('REGISTRY_TLS_ERROR', `TLS connection to registry ${context.registry} failed (${context.operation}): ${describe(tls)}.${hint}`, {
      ...base,
      transient: false,
    });
  }
  if (chain.some((failure) => failure.message === 'bad port')) {
    // fetch never connects to the ports the Fetch standard blocks (e.g. 1, 9, 6000): asking again cannot help.
    return new RegistryError(
      'REGISTRY_PORT_BLOCKED',
      `Cannot connect to registry ${context.registry} (${context.operation}): its port is one the Fetch standard blocks (https://fetch.spec.whatwg.org/#port-blocking); use another port.`,
      { ...base, transient: false },
    );
  }
  const dns = chain.find((failure) => failure.code !== undefined && DNS_CODES.has(failure.code));
  if (dns) {
    // Transient: a resolver may be briefly wrong; the message says to check the name, which is the usual cause.
    return new RegistryError(
      'REGISTRY_DNS_FAILURE',
      `Cannot resolve the host of registry ${context.registry} (${context.operation}): ${describe(dns)}. Check the registry host name.`,
      { ...base, transient: true },
    );
  }
  // Prefer the innermost failure with a code (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, …).
  const specific = [...chain].reverse().find((failure) => failure.code !== undefined) ?? chain[chain.length - 1];
  return new RegistryError('REGISTRY_UNREACHABLE', `Cannot reach registry ${context.registry} (${context.operation}): ${specific ? describe(specific) : String(error)}.`, {
    ...base,
    transient: true,
  });
}

export function registryTimeoutError(context: RegistryRequestContext, timeoutMs: number, cause?: unknown): RegistryError {
  return new RegistryError('REGISTRY_TIMEOUT', `Registry ${context.registry} did not answer within ${timeoutMs} ms (${context.operation} on ${where(context)}).`, {
    registry: context.registry,
    repository: context.repository,
    transient: true,
    cause,
  });
}

function describe(failure: Failure): string {
  if (failure.code && failure.message.includes(failure.code)) return failure.message;
  if (failure.code) return failure.message ? `${failure.code} ${failure.message}` : failure.code;
  return failure.message || 'unknown error';
}
