import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/** A service reached over HTTP, named for metrics: every request under `baseUrl` counts as its. */
export interface OutboundService {
  name: string;
  baseUrl: string;
}

export interface OutboundRequestRecord {
  service: string;
  method: string;
  /** The answer's status, null when none came (refused, reset, timed out). */
  status: number | null;
  /** Until the answer's headers, or the failure. */
  seconds: number;
  /** The answer's Retry-After header, when it had one. */
  retryAfter?: string;
}

/**
 * Observes the requests this process makes through Node's http/https clients to `services`, through
 * Node's diagnostics channels `http.client.request.created` and `http.client.request.error`. This is how the requests of @sigstore/sign
 * (Fulcio, Rekor, TSA; made with make-fetch-happen on node:http, with its own retries) are seen
 * without changing that library: each attempt is one record. Requests to other URLs are not looked at
 * beyond their URL. Returns the function that stops observing.
 */
export function observeOutboundHttpRequests(services: readonly OutboundService[], onRequest: (record: OutboundRequestRecord) => void): () => void {
  const prefixes = services.map(({ name, baseUrl }) => ({ name, ...urlPrefix(baseUrl) }));
  // The observed requests still without a record, to their record function.
  const pending = new WeakMap<ClientRequest, (status: number | null) => void>();
  const onCreated = (message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    const host = String(request.getHeader('host') ?? request.host).toLowerCase();
    const match = prefixes.find((p) => p.protocol === request.protocol && p.host === host && underPath(request.path, p.path));
    if (!match) return;
    const started = performance.now();
    const record = (status: number | null, retryAfter?: string) => {
      if (!pending.delete(request)) return;
      onRequest({ service: match.name, method: request.method, status, seconds: (performance.now() - started) / 1000, ...(retryAfter ? { retryAfter } : {}) });
    };
    pending.set(request, record);
    request.once('response', (response: IncomingMessage) => record(response.statusCode ?? null, response.headers['retry-after']));
    // Aborted without an error (a timeout that destroys the request): no answer either.
    request.once('close', () => record(null));
  };
  // Published before the request emits 'error' (no listener of ours on it: that would change who handles it).
  const onError = (message: unknown): void => pending.get((message as { request: ClientRequest }).request)?.(null);
  diagnosticsChannel.subscribe('http.client.request.created', onCreated);
  diagnosticsChannel.subscribe('http.client.request.error', onError);
  return () => {
    diagnosticsChannel.unsubscribe('http.client.request.created', onCreated);
    diagnosticsChannel.unsubscribe('http.client.request.error', onError);
  };
}

/** Protocol, `host[:port]` as a Host header names it (default ports left out) and path (no trailing slash) of a base URL. */
function urlPrefix(baseUrl: string): { protocol: string; host: string; path: string } {
  const url = new URL(baseUrl);
  return { protocol: url.protocol, host: url.host.toLowerCase(), path: url.pathname.replace(/\/+$/, '') };
}

/** Whether a request path (query included) is the base path or below it: a TSA URL may name the endpoint itself. */
function underPath(requestPath: string, basePath: string): boolean {
  if (basePath === '') return true;
  return requestPath.startsWith(basePath) && ['', '/', '?'].includes(requestPath.charAt(basePath.length));
}
