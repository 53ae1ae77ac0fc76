import { HttpService, jsonResponse } from './http-service';

describe('faults on command (/__faults)', () => {
  let handled = 0;
  const service = new HttpService({
    name: 'test',
    routes: [
      {
        method: 'POST',
        path: '/api/v1/entries',
        handler: () => (handled++, jsonResponse(201, { entry: { signedEntryTimestamp: Buffer.from('a signed entry timestamp').toString('base64') } })),
      },
      { method: 'GET', path: '/api/v1/other', handler: () => jsonResponse(200, { ok: true }) },
    ],
  });
  let base: string;
  const fault = (body: unknown) => fetch(`${base}/__faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const post = () => fetch(`${base}/api/v1/entries`, { method: 'POST', body: '{}' });

  beforeAll(async () => {
    await service.listen('127.0.0.1', 0);
    base = `http://127.0.0.1:${service.port}`;
  });
  afterAll(() => service.close());
  beforeEach(async () => {
    await fault({ clear: true });
    handled = 0;
  });

  it('answers the status to `count` matching requests, without handling them, then serves again', async () => {
    expect((await fault({ status: 503, count: 2, path: '/api/v1/entries' })).status).toBe(201);
    expect((await fetch(`${base}/api/v1/other`)).status).toBe(200); // another path: untouched
    expect((await post()).status).toBe(503);
    expect((await post()).status).toBe(503);
    expect(handled).toBe(0);
    expect((await post()).status).toBe(201);
    expect(handled).toBe(1);
  });

  it('sends Retry-After with the status', async () => {
    await fault({ status: 429, retryAfterSeconds: 3 });
    const response = await post();
    expect([response.status, response.headers.get('retry-after')]).toEqual([429, '3']);
  });

  it('handles the request and loses the answer (afterHandling)', async () => {
    await fault({ status: 502, afterHandling: true });
    expect((await post()).status).toBe(502);
    expect(handled).toBe(1);
  });

  it('answers late (delayMs)', async () => {
    await fault({ delayMs: 300 });
    const started = Date.now();
    expect((await post()).status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('alters a named base64 field of the answer (corrupt)', async () => {
    await fault({ corrupt: 'signedEntryTimestamp' });
    const corrupted = (await (await post()).json()) as { entry: { signedEntryTimestamp: string } };
    const intact = (await (await post()).json()) as { entry: { signedEntryTimestamp: string } };
    expect(Buffer.from(intact.entry.signedEntryTimestamp, 'base64').toString()).toBe('a signed entry timestamp');
    expect(corrupted.entry.signedEntryTimestamp).not.toBe(intact.entry.signedEntryTimestamp);
    expect(corrupted.entry.signedEntryTimestamp).toHaveLength(intact.entry.signedEntryTimestamp.length);
  });

  it('lists pending faults, clears them, and refuses malformed ones', async () => {
    await fault({ status: 500, count: 5 });
    expect(((await (await fetch(`${base}/__faults`)).json()) as { faults: unknown[] }).faults).toEqual([expect.objectContaining({ status: 500, remaining: 5 })]);
    await fault({ clear: true });
    expect((await post()).status).toBe(201);
    expect((await fault({ colour: 'red' })).status).toBe(400);
    expect((await fault({ count: 2 })).status).toBe(400);
  });
});
