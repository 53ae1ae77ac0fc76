import { ProblemResponseError, UnreachableError } from './exit-codes';

/** Error codes of Node's fetch (undici) and its resolver that mean "nobody answered", not "refused". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

export interface RequestOptions {
  query?: Record<string, string | undefined> | URLSearchParams;
  json?: unknown;
  body?: Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
  /** Overrides the client's timeout: until the answer's headers arrive for streams, the whole exchange otherwise. */
  timeoutMs?: number;
  accept?: string;
}

/**
 * A thin client of the wasm-signer HTTP API: one base URL, a bearer credential fetched once when first
 * needed, a time limit on every exchange. Network failures become UnreachableError (exit 3), error
 * answers ProblemResponseError carrying the problem's `code` (exit 1).
 */
export class ServiceClient {
  private credential: Promise<string | undefined> | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly credentialSource: () => Promise<string | undefined>,
    readonly timeoutMs: number,
  ) {}

  /** A JSON answer of a successful request. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    return (await this.read(response, () => response.json(), path)) as T;
  }

  /**
   * The response whose headers arrived within the time limit, its body not read yet (for server-sent
   * events). `signal` ends the stream early.
   */
  async stream(path: string, signal: AbortSignal, options: RequestOptions = {}): Promise<Response> {
    const headersTimeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    const headersArrived = new AbortController();
    const combined = AbortSignal.any([signal, headersArrived.signal]);
    const onTimeout = () => headersArrived.abort(headersTimeout.reason);
    headersTimeout.addEventListener('abort', onTimeout, { once: true });
    try {
      return await this.send('GET', path, { ...options, timeoutMs: undefined }, combined);
    } finally {
      headersTimeout.removeEventListener('abort', onTimeout);
    }
  }

  private async send(method: string, path: string, options: RequestOptions, signal?: AbortSignal): Promise<Response> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    const query = options.query instanceof URLSearchParams ? options.query : Object.entries(options.query ?? {});
    for (const [name, value] of query) if (value !== undefined) url.searchParams.append(name, value);
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json, application/problem+json', ...options.headers };
    const credential = await (this.credential ??= this.credentialSource());
    if (credential) headers.authorization = `Bearer ${credential}`;
    let body: Uint8Array | string | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.contentType) headers['content-type'] = options.contentType;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      const response = await fetch(url, { method, headers, body, signal: signal ?? AbortSignal.timeout(timeoutMs) });
      if (!response.ok) throw await problemOf(response);
      return response;
    } catch (error) {
      throw unreachableOr(error, `${this.baseUrl}`, timeoutMs);
    }
  }

  private async read<T>(response: Response, parse: () => Promise<T>, path: string): Promise<T> {
    try {
      return await parse();
    } catch (error) {
      throw unreachableOr(error, `${this.baseUrl} (${path})`, this.timeoutMs);
    }
  }
}

/** The problem document of an error answer; any other body is summarised by its status. */
async function problemOf(response: Response): Promise<ProblemResponseError> {
  const text = await response.text().catch(() => '');
  try {
    const problem = JSON.parse(text) as { code?: unknown; title?: unknown; detail?: unknown };
    const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
    return new ProblemResponseError(response.status, str(problem.code), str(problem.title), str(problem.detail));
  } catch {
    return new ProblemResponseError(response.status, undefined, response.statusText || undefined, text.slice(0, 200) || undefined);
  }
}

/** A network failure or time-out as UnreachableError; anything else (a problem answer) unchanged. */
export function unreachableOr(error: unknown, target: string, timeoutMs: number): unknown {
  if (error instanceof ProblemResponseError) return error;
  // DOMExceptions (what an aborted fetch rejects with) are matched by name: not every realm's Error is their prototype.
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || (name === 'AbortError' && isTimeout((error as { cause?: unknown }).cause))) {
    return new UnreachableError(`${target} did not answer within ${Math.round(timeoutMs / 1000)} s`);
  }
  const code = networkCode(error);
  if (code) return new UnreachableError(`cannot reach ${target}: ${code}${code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? ' (host name not resolved)' : ''}`);
  if (error instanceof TypeError && error.message === 'fetch failed') return new UnreachableError(`cannot reach ${target}: ${String(error.cause ?? error.message)}`);
  return error;
}

function isTimeout(reason: unknown): boolean {
  return (reason as { name?: unknown } | null)?.name === 'TimeoutError';
}

function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
    // AggregateError (happy eyeballs tried several addresses): the first one's code.
    const errors = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
