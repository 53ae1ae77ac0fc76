import { StepError } from '../pipeline/step-error';
import { redactTokens } from './identity/workload-token';

/**
 * Classifies what sigstore-js throws (InternalError with a code, wrapping an HTTPError with a status)
 * into a StepError: refused requests are permanent, unavailable services transient. Messages are
 * scrubbed of tokens: sigstore-js quotes the identity token in some of them.
 */
export function toSigningStepError(error: unknown): StepError {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    if (current instanceof StepError) return current;
  }
  const code = (error as { code?: string }).code ?? 'SIGNING_FAILED';
  const status = findStatus(error);
  const service = SERVICES[code] ?? 'Sigstore';
  const detail = redactTokens(describe(error));
  // sigstore-js could not read the token's subject: no amount of retrying changes the token's shape.
  if (code === 'IDENTITY_TOKEN_PARSE_ERROR') return StepError.permanent('IDENTITY_TOKEN_MALFORMED', `the workload identity token is unusable: ${detail}`);
  if (status === undefined) return StepError.transient(`${serviceCode(service)}_UNREACHABLE`, `${service} could not be reached: ${detail}`);
  if (status === 429 || status >= 500) return StepError.transient(`${serviceCode(service)}_UNAVAILABLE`, `${service} answered HTTP ${status}: ${detail}`);
  if (service === 'Fulcio' && (status === 401 || status === 403)) {
    return StepError.permanent('FULCIO_REFUSED_IDENTITY', `Fulcio refused the workload identity token (HTTP ${status}): ${detail}`);
  }
  return StepError.permanent(`${serviceCode(service)}_REJECTED`, `${service} rejected the request (HTTP ${status}): ${detail}`);
}

const SERVICES: Record<string, string> = {
  CA_CREATE_SIGNING_CERTIFICATE_ERROR: 'Fulcio',
  TLOG_CREATE_ENTRY_ERROR: 'Rekor',
  TLOG_FETCH_ENTRY_ERROR: 'Rekor',
  TSA_CREATE_TIMESTAMP_ERROR: 'the timestamp authority',
  IDENTITY_TOKEN_READ_ERROR: 'the identity provider',
};

const serviceCode = (service: string) =>
  ({ Fulcio: 'FULCIO', Rekor: 'REKOR', 'the timestamp authority': 'TSA', 'the identity provider': 'IDENTITY_PROVIDER' })[service] ?? 'SIGSTORE';

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
