import { RegistryError, RegistryRequestContext, registryErrorFromNetworkFailure, registryErrorFromStatus, registryTimeoutError } from './registry-error';

/**
 * One HTTP exchange with a registry or its token service: deadline, caller cancellation, and turning
 * what fetch throws into RegistryErrors. No authentication, no redirects: see registry-transport.ts.
 */

export type FetchFunction = typeof fetch;

export interface HttpExchange {
  url: URL;
  method: string;
  headers: Headers;
  /** A Buffer can be sent again (after a 401 or a redirect); a stream only once. */
  body?: Buffer | ReadableStream<Uint8Array>;
  /** The caller's cancellation: its reason is rethrown unchanged. */
  signal?: AbortSignal;
  /** Covers the whole exchange, body reading included; undefined for none (then `extraSignal` governs). */
  timeoutMs?: number;
  /** An additional signal (e.g. an idle timer) whose abort reason is thrown as is. */
  extraSignal?: AbortSignal;
  context: RegistryRequestContext;
}

/** The signals of an exchange, combined, and how to explain an abort. */
export class ExchangeSignals {
  readonly timeout: AbortSignal | undefined;
  readonly combined: AbortSignal | undefined;

  constructor(private readonly exchange: HttpExchange) {
    this.timeout = exchange.timeoutMs !== undefined ? AbortSignal.timeout(exchange.timeoutMs) : undefined;
    const signals = [exchange.signal, this.timeout, exchange.extraSignal].filter((s): s is AbortSignal => s !== undefined);
    this.combined = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  }

  /** The error to throw for a failure of fetch or of reading its body. */
  explain(error: unknown): unknown {
    const { signal, extraSignal, context, timeoutMs } = this.exchange;
    if (signal?.aborted) return signal.reason;
    if (extraSignal?.aborted) return extraSignal.reason;
    if (this.timeout?.aborted) return registryTimeoutError(context, timeoutMs ?? 0, error);
    if (error instanceof RegistryError) return error;
    return registryErrorFromNetworkFailure(context, error);
  }
}

export async function exchange(fetchImpl: FetchFunction, request: HttpExchange): Promise<{ response: Response; signals: ExchangeSignals }> {
  const signals = new ExchangeSignals(request);
  const init: RequestInit & { duplex?: 'half' } = {
    method: request.method,
    headers: request.headers,
    redirect: 'manual',
    signal: signals.combined,
  };
  if (request.body !== undefined) {
    init.body = request.body;
    if (!(request.body instanceof Uint8Array)) {
      // A stream body needs half-duplex mode: the request is sent while its body is produced.
      init.duplex = 'half';
      // Otherwise fetch clones the request for its redirect/auth handling and tees the body stream; the
      // branch nobody reads then keeps every chunk until the request ends — the whole blob in memory
      // (nodejs/undici#4058, fixed in undici 8; Node 24 bundles undici 7). With no window and redirect
      // "error", the fetch standard uses the request as is. A streamed body cannot follow a redirect anyway.
      init.redirect = 'error';
      init.window = null;
    }
  }
  try {
    const response = await fetchImpl(request.url, init);
    return { response, signals };
  } catch (error) {
    if (init.redirect === 'error' && /redirect/i.test(String((error as { cause?: { message?: unknown } }).cause?.message ?? ''))) {
      const { context } = request;
      throw new RegistryError('REGISTRY_PROTOCOL_ERROR', `Registry ${context.registry} redirected ${context.operation}, whose streamed body cannot be sent again.`, {
        transient: false,
        registry: context.registry,
        repository: context.repository,
        cause: error,
      });
    }
    throw signals.explain(error);
  }
}

/** Reads a response body up to `maxBytes`; `tooLarge` makes the error when it is longer. */
export async function readBody(response: Response, signals: ExchangeSignals, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await discardBody(response);
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        throw signals.explain(error);
      }
      if (next.done) break;
      total += next.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, total);
}

/** Lets go of a response body we do not need, so the connection can be reused. */
export async function discardBody(response: Response): Promise<void> {
  if (response.body && !response.bodyUsed) await response.body.cancel().catch(() => undefined);
}

const ERROR_BODY_LIMIT = 64 * 1024;

/** The RegistryError for an unexpected status, with the registry's own error details when it sent any. */
export async function errorFromResponse(response: Response, signals: ExchangeSignals, context: RegistryRequestContext): Promise<RegistryError> {
  let body = '';
  try {
    body = (await readBody(response, signals, ERROR_BODY_LIMIT, () => new Error('error body too large'))).toString('utf8');
  } catch {
    // The status alone still classifies the failure.
  }
  return registryErrorFromStatus(context, response.status, response.headers, body);
}
