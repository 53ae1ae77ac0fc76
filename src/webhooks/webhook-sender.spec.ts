import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RESPONSE_EXCERPT_BYTES, sendWebhook } from './webhook-sender';

describe('sendWebhook', () => {
  let server: Server;
  let port: number;
  const received: { host?: string; body: string; headers: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ host: req.headers.host, body, headers: req.headers });
        if (req.url === '/big') res.end('x'.repeat(100_000));
        else if (req.url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
        else if (req.url === '/slow') setTimeout(() => res.end('late'), 1_000).unref();
        else res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const target = (path: string) => ({ url: new URL(`http://hooks.example.invalid:${port}${path}`), address: '127.0.0.1', family: 4 as const });
  const options = { connectTimeoutMs: 1_000, responseTimeoutMs: 500 };

  it('connects to the pinned address, keeping the URL host, and sends the body and headers', async () => {
    const result = await sendWebhook(target('/ok'), '{"a":1}', { 'webhook-id': 'msg_1' }, options);
    expect(result).toMatchObject({ statusCode: 200, responseExcerpt: 'ok', error: null });
    expect(received.at(-1)).toMatchObject({ host: `hooks.example.invalid:${port}`, body: '{"a":1}', headers: { 'webhook-id': 'msg_1', 'content-type': 'application/json' } });
  });

  it('keeps at most 1 KiB of the answer', async () => {
    const result = await sendWebhook(target('/big'), '{}', {}, options);
    expect(result.statusCode).toBe(200);
    expect(result.responseExcerpt).toHaveLength(RESPONSE_EXCERPT_BYTES);
  });

  it('does not follow redirects', async () => {
    const before = received.length;
    const result = await sendWebhook(target('/redirect'), '{}', {}, options);
    expect(result.statusCode).toBe(302);
    expect(received.length).toBe(before + 1);
  });

  it('gives up on a slow answer', async () => {
    const result = await sendWebhook(target('/slow'), '{}', {}, options);
    expect(result).toMatchObject({ statusCode: null, error: expect.stringContaining('no answer within 500 ms') });
  });
});
