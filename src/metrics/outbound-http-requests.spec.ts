import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { observeOutboundHttpRequests, type OutboundRequestRecord } from './outbound-http-requests';

/** Requests through node:http (what @sigstore/sign's make-fetch-happen uses) to a loopback server. */
describe('observeOutboundHttpRequests', () => {
  let server: Server;
  let base: string;
  const stops: Array<() => void> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith('/slow')) {
        setTimeout(() => res.writeHead(503).end(), 100);
        return;
      }
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => stops.splice(0).forEach((stop) => stop()));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const send = (url: string, method = 'GET') =>
    new Promise<number | null>((resolve) => {
      const req = httpRequest(url, { method }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? null));
      });
      req.on('error', () => resolve(null));
      req.end(method === 'POST' ? 'body' : undefined);
    });

  const observe = (services: Array<{ name: string; baseUrl: string }>) => {
    const records: OutboundRequestRecord[] = [];
    stops.push(observeOutboundHttpRequests(services, (record) => records.push(record)));
    return records;
  };

  it('records requests under a service base URL with method, status and duration, and nothing else', async () => {
    const records = observe([
      { name: 'fulcio', baseUrl: `${base}/fulcio` },
      { name: 'tsa', baseUrl: `${base}/slow/tsa/api/v1/timestamp` },
    ]);
    expect(await send(`${base}/fulcio/api/v2/signingCert`, 'POST')).toBe(201);
    expect(await send(`${base}/slow/tsa/api/v1/timestamp`, 'POST')).toBe(503);
    expect(await send(`${base}/fulcioX/other`)).toBe(200);
    expect(await send(`${base}/slow/tsa/api/v1/timestamps`)).toBe(503);
    expect(await send(`${base}/elsewhere`)).toBe(200);

    expect(records).toEqual([
      { service: 'fulcio', method: 'POST', status: 201, seconds: expect.any(Number) },
      { service: 'tsa', method: 'POST', status: 503, seconds: expect.any(Number) },
    ]);
    expect(records[1]!.seconds).toBeGreaterThanOrEqual(0.09);
  });

  it('records a request that got no answer with status null', async () => {
    const records = observe([{ name: 'rekor', baseUrl: 'http://127.0.0.1:1' }]);
    expect(await send('http://127.0.0.1:1/api/v1/log/entries', 'POST')).toBeNull();
    expect(records).toEqual([{ service: 'rekor', method: 'POST', status: null, seconds: expect.any(Number) }]);
  });

  it('stops recording once stopped', async () => {
    const records: OutboundRequestRecord[] = [];
    observeOutboundHttpRequests([{ name: 'fulcio', baseUrl: base }], (record) => records.push(record))();
    await send(`${base}/api`);
    expect(records).toEqual([]);
  });
});
