import { CodedError } from '../common/coded-error';
import { redactTokens } from './identity/workload-token';

/**
 * Classifies what sigstore-js throws (InternalError with a code, wrapping an HTTPError with a status)
 * into a SigstoreError: refused requests are permanent, unavailable services transient (the answer's
 * status is read here, once, where the library's error is translated; the pipeline reads `transient`).
 * A CodedError anywhere in the cause chain (an identity provider's) is returned as it is. Messages are
 * scrubbed of tokens: sigstore-js quotes the identity token in some of them.
 */
export function toSigningStepError(error: unknown, retryAfterMs?: (service: 'fulcio' | 'rekor' | 'tsa') => number | undefined): CodedError {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    if (current instanceof CodedError) return current;
  }
  const code = (error as { code?: string }).code ?? 'SIGNING_FAILED';
  const status = findStatus(error);
  const service = SERVICES[code] ?? 'Sigstore';
  const detail = redactTokens(describe(error));
  // sigstore-js could not read the token's subject: no amount of retrying changes the token's shape.
  if (code === 'IDENTITY_TOKEN_PARSE_ERROR') return new SigstoreError('IDENTITY_TOKEN_MALFORMED', `the workload identity token is unusable: ${detail}`, false);
  if (status === undefined) return new SigstoreError(`${serviceCode(service)}_UNREACHABLE`, `${service} could not be reached: ${detail}`, true);
  if (status === 429 || status >= 500) {
    // The service's Retry-After, when it gave one (sigstore-js does not pass it on): the step waits that long.
    const key = ({ FULCIO: 'fulcio', REKOR: 'rekor', TSA: 'tsa' } as const)[serviceCode(service) as 'FULCIO' | 'REKOR' | 'TSA'];
    const wait = key && (status === 429 || status === 503) ? retryAfterMs?.(key) : undefined;
    const hint = wait === undefined ? '' : `; it asked to retry after ${Math.ceil(wait / 1000)} s`;
    return new SigstoreError(`${serviceCode(service)}_UNAVAILABLE`, `${service} answered HTTP ${status}: ${detail}${hint}`, true, wait);
  }
  if (service === 'Fulcio' && (status === 401 || status === 403)) {
    return new SigstoreError('FULCIO_REFUSED_IDENTITY', `Fulcio refused the workload identity token (HTTP ${status}): ${detail}`, false);
  }
  return new SigstoreError(`${serviceCode(service)}_REJECTED`, `${service} rejected the request (HTTP ${status}): ${detail}`, false);
}

const SIGSTORE_SERVICE_CODES = ['FULCIO', 'REKOR', 'TSA', 'IDENTITY_PROVIDER', 'SIGSTORE'] as const;
type SigstoreServiceCode = (typeof SIGSTORE_SERVICE_CODES)[number];

/** Every code a signing failure carries: per service, unreachable, unavailable or rejected. */
export const SIGSTORE_ERROR_CODES = Object.freeze(
  Object.fromEntries(
    [...SIGSTORE_SERVICE_CODES.flatMap((s) => [`${s}_UNREACHABLE`, `${s}_UNAVAILABLE`, `${s}_REJECTED`]), 'FULCIO_REFUSED_IDENTITY', 'IDENTITY_TOKEN_MALFORMED'].map((c) => [c, c]),
  ),
) as { readonly [C in SigstoreErrorCode]: C };
export type SigstoreErrorCode = `${SigstoreServiceCode}_${'UNREACHABLE' | 'UNAVAILABLE' | 'REJECTED'}` | 'FULCIO_REFUSED_IDENTITY' | 'IDENTITY_TOKEN_MALFORMED';

/** A Sigstore service (Fulcio, Rekor, the TSA) or the identity provider failed while signing. */
export class SigstoreError extends CodedError<SigstoreErrorCode> {
  constructor(code: SigstoreErrorCode, message: string, transient: boolean, retryAfterMs?: number) {
    super(code, message, { transient, retryAfterMs });
    this.name = 'SigstoreError';
  }
}

const SERVICES: Record<string, string> = {
  CA_CREATE_SIGNING_CERTIFICATE_ERROR: 'Fulcio',
  TLOG_CREATE_ENTRY_ERROR: 'Rekor',
  TLOG_FETCH_ENTRY_ERROR: 'Rekor',
  TSA_CREATE_TIMESTAMP_ERROR: 'the timestamp authority',
  IDENTITY_TOKEN_READ_ERROR: 'the identity provider',
};

const SERVICE_CODES: Record<string, SigstoreServiceCode> = { Fulcio: 'FULCIO', Rekor: 'REKOR', 'the timestamp authority': 'TSA', 'the identity provider': 'IDENTITY_PROVIDER' };
const serviceCode = (service: string): SigstoreServiceCode => SERVICE_CODES[service] ?? 'SIGSTORE';

function findStatus(error: unknown): number | undefined {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    const status = (current as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number') return status;
  }
  return undefined;
}

function describe(error: unknown): string {
  const messages: string[] = [];
  for (let current: unknown = error; current && messages.length < 4; current = (current as { cause?: unknown }).cause) {
    const message = (current as Error).message;
    if (message && !messages.includes(message)) messages.push(message);
  }
  return messages.join(': ') || String(error);
}
