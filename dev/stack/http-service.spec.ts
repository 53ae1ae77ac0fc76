import { HttpService, jsonResponse } from './http-service';

describe('request counts (/__requests)', () => {
  const service = new HttpService({
    name: 'test',
    routes: [
      { method: 'POST', path: '/api/v2/signingCert', handler: () => jsonResponse(201, {}) },
      { method: 'GET', path: /^\/api\/v1\/log\/entries\/([0-9a-f]+)$/, handler: () => jsonResponse(200, {}) },
    ],
  });
  let base: string;
  const counts = async () => ((await (await fetch(`${base}/__requests`)).json()) as { requests: Record<string, number> }).requests;

  beforeAll(async () => {
    await service.listen('127.0.0.1', 0);
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(() => service.close());

  it('counts requests per route, faulted ones too, and not the control or health requests', async () => {
    expect(await counts()).toEqual({});
    await fetch(`${base}/api/v2/signingCert`, { method: 'POST', body: '{}' });
    await fetch(`${base}/api/v2/signingCert`, { method: 'POST', body: '{}' });
    await fetch(`${base}/api/v1/log/entries/ab12`);
    await fetch(`${base}/api/v1/log/entries/cd34`);
    await fetch(`${base}/nowhere`);
    await fetch(`${base}/healthz`);
    await fetch(`${base}/__faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 503, path: '/api/v2/signingCert' }) });
    expect((await fetch(`${base}/api/v2/signingCert`, { method: 'POST', body: '{}' })).status).toBe(503);

    expect(await counts()).toEqual({
      'POST /api/v2/signingCert': 3,
      'GET ^\\/api\\/v1\\/log\\/entries\\/([0-9a-f]+)$': 2,
      'GET (no route)': 1,
    });
  });

  it('answers 405 to anything but GET', async () => {
    expect((await fetch(`${base}/__requests`, { method: 'POST' })).status).toBe(405);
  });
});
