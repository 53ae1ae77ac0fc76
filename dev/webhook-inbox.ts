import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One delivery the inbox received. */
export interface ReceivedWebhook {
  receivedAt: string;
  path: string;
  /** The `webhook-id` header: the same on every retry of one delivery. */
  id: string | null;
  type: string | null;
  /** Whether the Standard Webhooks signature checks with the callback secret (job callbackUrl deliveries). */
  signedWithCallbackSecret: boolean;
  payload: unknown;
}

export interface WebhookInbox {
  readonly url: string;
  stop(): Promise<void>;
}

const MAX_KEPT = 100;
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A webhook receiver for development (never production): `POST` to any path records the delivery and
 * answers 204; `GET /` lists the last deliveries, newest first. Each delivery is logged in one line, so
 * `npm run dev` shows callbacks and subscription events as they arrive.
 */
export async function startWebhookInbox(options: { host: string; port: number; callbackSecret?: string; log?: (message: string) => void }): Promise<WebhookInbox> {
  const received: ReceivedWebhook[] = [];
  const verifier = options.callbackSecret ? new Webhook(options.callbackSecret) : undefined;
  const log = options.log ?? (() => undefined);

  const server: Server = createServer((request, response) => {
    if (request.method === 'GET') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received, null, 2));
      return;
    }
    if (request.method !== 'POST') {
      response.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }
    readBody(request).then(
      (body) => {
        const headers = {
          'webhook-id': header(request, 'webhook-id') ?? '',
          'webhook-timestamp': header(request, 'webhook-timestamp') ?? '',
          'webhook-signature': header(request, 'webhook-signature') ?? '',
        };
        let signed = false;
        try {
          verifier?.verify(body, headers);
          signed = verifier !== undefined;
        } catch {
          signed = false;
        }
        let payload: unknown = body;
        try {
          payload = JSON.parse(body);
        } catch {
          // kept as text
        }
        const type = typeof (payload as { type?: unknown })?.type === 'string' ? (payload as { type: string }).type : null;
        received.unshift({ receivedAt: new Date().toISOString(), path: request.url ?? '/', id: headers['webhook-id'] || null, type, signedWithCallbackSecret: signed, payload });
        received.length = Math.min(received.length, MAX_KEPT);
        log(`webhook ${type ?? '(no type)'} ${headers['webhook-id'] || '(no webhook-id)'} at ${request.url}${signed ? ' (signed with the callback secret)' : ''}`);
        response.writeHead(204).end();
      },
      () => response.writeHead(413).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.destroy();
        reject(new Error('too large'));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
