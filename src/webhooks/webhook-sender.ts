import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { WebhookTarget } from './webhook-target';

/** Most bytes of a receiver's answer that are read and kept. */
export const RESPONSE_EXCERPT_BYTES = 1024;

export interface SendResult {
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

export interface SendOptions {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

/**
 * POSTs one signed webhook. Connects to the address checked beforehand (a lookup that always answers
 * it: no second DNS resolution, no rebinding), follows no redirects, bounds connecting and answering
 * in time and reads at most RESPONSE_EXCERPT_BYTES of the answer. Never throws: failures are results.
 */
export function sendWebhook(target: WebhookTarget, body: string, headers: Record<string, string>, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all)
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = target.url.protocol === 'https:' ? https : http;

  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      resolve({ ...result, latencyMs: elapsed() });
    };
    const request = client.request(target.url, {
      method: 'POST',
      lookup: pinned,
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'wasm-signer-webhooks', ...headers },
    });
    const connectTimer = setTimeout(() => request.destroy(new Error(`no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    let responseTimer: NodeJS.Timeout | undefined;
    request.on('socket', (socket) => {
      const connected = () => {
        clearTimeout(connectTimer);
        responseTimer = setTimeout(() => request.destroy(new Error(`no answer within ${options.responseTimeoutMs} ms`)), options.responseTimeoutMs);
      };
      if (socket.connecting) socket.once(target.url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      else connected();
    });
    request.on('error', (error) => finish({ statusCode: null, responseExcerpt: null, error: error.message }));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        const excerpt = Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
        finish({ statusCode: response.statusCode ?? null, responseExcerpt: excerpt || null, error: null });
        response.destroy();
      };
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= RESPONSE_EXCERPT_BYTES) done();
      });
      response.on('end', done);
      response.on('error', done);
    });
    request.end(body);
  });
}
