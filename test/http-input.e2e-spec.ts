import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { RegistryReader } from './support/registry-http';
import { sniffingProxy } from './support/sniffing-proxy';
import { ServiceProcess, eventually, sleep } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

const BODY_IDLE_MS = 1_000;
const HEADERS_MS = 1_500;
const JSON_BODY_LIMIT = 64 * 1024;

interface Problem {
  status: number;
  code: string;
  detail: string;
}

/** What a raw client got back before the connection closed, and when it closed. */
interface RawExchange {
  response: string;
  status: number | undefined;
  problem: Problem | undefined;
  closedAfterMs: number;
}

/**
 * Sends `chunks` over a plain TCP connection (a client that lies or stalls), waiting `gapMs` between
 * them, and resolves when the service closes the connection (or after `giveUpMs`, with closedAfterMs
 * Infinity: the connection was held).
 */
function rawRequest(port: number, chunks: (string | Buffer)[], options: { gapMs?: number; giveUpMs?: number } = {}): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const received: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    let open = true;
    const finish = (closedAfterMs: number) => {
      clearTimeout(giveUp);
      const response = Buffer.concat(received).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
      const body = response.slice(response.indexOf('\r\n\r\n') + 4);
      let problem: Problem | undefined;
      try {
        problem = body ? (JSON.parse(body) as Problem) : undefined;
      } catch {
        problem = undefined;
      }
      resolve({ response, status: status ? Number(status) : undefined, problem, closedAfterMs });
    };
    const giveUp = setTimeout(() => {
      open = false;
      socket.destroy();
      finish(Number.POSITIVE_INFINITY);
    }, options.giveUpMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer is how some closes look
    socket.on('close', () => {
      if (open) finish(Date.now() - started);
      open = false;
    });
    socket.on('connect', async () => {
      try {
        for (const [index, chunk] of chunks.entries()) {
          if (index > 0 && options.gapMs) await sleep(options.gapMs);
          if (!open || socket.destroyed) return;
          socket.write(chunk);
        }
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Bad input from a user or a slow client gets an answer that says what to do, and holds nothing. */
describe('HTTP input', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const wasm = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
  let database: TestDatabase;
  let service: ServiceProcess;
  let port: number;
  let proxy: Awaited<ReturnType<typeof sniffingProxy>>;

  beforeAll(async () => {
    proxy = await sniffingProxy(registryHost);
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'http-input', {
        HTTP_BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_MS),
        HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        REGISTRY_INSECURE_HOSTS: `${env.stackEnv.REGISTRY_INSECURE_HOSTS},${proxy.host}`,
        // Small, so that an over-limit body is sent whole before the 413 (a larger one races the answer: EPIPE).
        HTTP_BODY_LIMIT_BYTES: String(JSON_BODY_LIMIT),
      }),
    );
    port = Number(new URL(service.baseUrl).port);
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    await proxy?.close();
  });

  const newRepository = () => `${registryHost}/e2e/input-${randomUUID().slice(0, 12)}`;
  const problemOf = async (response: Response) => {
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return (await response.json()) as Problem;
  };
  const post = (path: string, body: RequestInit['body'], contentType?: string) =>
    service.fetch(path, { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });

  it('a JSON body over the limit gets 413 naming the limit and where uploads go', async () => {
    const response = await post('/v1/signatures', JSON.stringify({ reference: 'x'.repeat(JSON_BODY_LIMIT + 1024) }), 'application/json');
    expect(response.status).toBe(413);
    const problem = await problemOf(response);
    expect(problem.code).toBe('PAYLOAD_TOO_LARGE');
    expect(problem.detail).toMatch(new RegExp(`at most ${JSON_BODY_LIMIT} bytes \\(HTTP_BODY_LIMIT_BYTES\\).*POST /v1/artifacts`));
  });

  describe('deeply nested JSON', () => {
    it.each([
      ['arrays', '['.repeat(5000) + ']'.repeat(5000)],
      ['objects', '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)],
    ])('of %s gets 400 JSON_TOO_DEEP on every JSON endpoint', async (_what, body) => {
      for (const path of ['/v1/verifications', '/v1/verifications/bundle', '/v1/probes']) {
        const response = await post(path, body, 'application/json');
        expect(response.status).toBe(400);
        const problem = await problemOf(response);
        expect(problem.code).toBe('JSON_TOO_DEEP');
        expect(problem.detail).toMatch(/at most 64 levels/);
      }
    });

    it('is read up to the limit, and prototype poisoning is still refused', async () => {
      const shallow = await post(
        '/v1/verifications',
        JSON.stringify({ reference: 'x', policy: { certificateIdentity: 'a', certificateOidcIssuer: 'b' }, extra: JSON.parse('['.repeat(60) + ']'.repeat(60)) }),
        'application/json',
      );
      expect((await problemOf(shallow)).code).toBe('VALIDATION_FAILED');
      const poisoned = await post('/v1/probes', '{"__proto__":{"holdMs":1}}', 'application/json');
      expect(poisoned.status).toBe(400);
      expect((await problemOf(poisoned)).code).toBe('MALFORMED_JSON');
    });
  });

  describe('POST /v1/artifacts names what to send', () => {
    it.each([
      ['text/plain', 'hello', 'text/plain'],
      ['a form (curl -d)', 'hello=world', 'application/x-www-form-urlencoded'],
      ['JSON', '{}', 'application/json'],
    ])('%s gets 415 naming application/wasm and multipart/form-data', async (_what, body, contentType) => {
      const response = await post(`/v1/artifacts?repository=${encodeURIComponent(newRepository())}`, body, contentType);
      expect(response.status).toBe(415);
      const problem = await problemOf(response);
      expect(problem.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(problem.detail).toContain(contentType);
      expect(problem.detail).toMatch(/application\/wasm.*multipart\/form-data.*"file"/);
    });

    it('a form whose file comes before the other fields gets 400 naming the order', async () => {
      const repository = newRepository();
      const form = new FormData();
      form.append('file', new Blob([wasm], { type: 'application/wasm' }), 'hello.wasm');
      form.append('repository', repository);
      const response = await service.fetch('/v1/artifacts', { method: 'POST', body: form });
      expect(response.status).toBe(400);
      const problem = await problemOf(response);
      expect(problem.code).toBe('FORM_FIELD_ORDER');
      expect(problem.detail).toMatch(/send repository.*before file/);
      expect(await registry.tags(repository.slice(registryHost.length + 1))).toEqual([]);
    });

    it('a field after the file is refused with FORM_FIELD_ORDER naming it, not silently dropped, and nothing is tagged', async () => {
      const repository = newRepository();
      const form = new FormData();
      form.append('repository', repository);
      form.append('file', new Blob([wasm], { type: 'application/wasm' }), 'hello.wasm');
      form.append('tag', 'v9');
      const response = await service.fetch('/v1/artifacts', { method: 'POST', body: form });
      expect(response.status).toBe(400);
      const problem = await problemOf(response);
      expect(problem.code).toBe('FORM_FIELD_ORDER');
      expect(problem.detail).toMatch(/"tag" came after "file"/);
      expect(await registry.tags(repository.slice(registryHost.length + 1))).toEqual([]);
    });

    it('5,000 annotations as form fields get 413 TOO_MANY_FIELDS naming the 64 allowed', async () => {
      const form = new FormData();
      form.append('repository', newRepository());
      for (let i = 0; i < 5000; i++) form.append(`annotation.k${i}`, 'v');
      form.append('file', new Blob([wasm], { type: 'application/wasm' }), 'hello.wasm');
      const response = await service.fetch('/v1/artifacts', { method: 'POST', body: form });
      expect(response.status).toBe(413);
      const problem = await problemOf(response);
      expect(problem.code).toBe('TOO_MANY_FIELDS');
      expect(problem.detail).toMatch(/at most 64 annotation/);
    });

    it('5,000 annotations as query parameters get 431 naming the header limit and the 64 annotations', async () => {
      const query = Array.from({ length: 5000 }, (_, i) => `annotation.k${i}=v`).join('&');
      const response = await post(`/v1/artifacts?repository=${encodeURIComponent(newRepository())}&${query}`, wasm, 'application/wasm');
      expect(response.status).toBe(431);
      const problem = await problemOf(response);
      expect(problem.code).toBe('HEADERS_TOO_LARGE');
      expect(problem.detail).toMatch(/16 KiB.*multipart form fields.*at most 64 annotations/);
    });

    it('65 annotations as query parameters get 400 naming the 64 allowed', async () => {
      const query = Array.from({ length: 65 }, (_, i) => `annotation.k${i}=v`).join('&');
      const response = await post(`/v1/artifacts?repository=${encodeURIComponent(newRepository())}&${query}`, wasm, 'application/wasm');
      expect(response.status).toBe(400);
      const problem = await problemOf(response);
      expect(problem.code).toBe('VALIDATION_FAILED');
      expect(problem.detail).toMatch(/at most 64 annotations, 65 given/);
    });
  });

  describe('JSON endpoints name application/json', () => {
    it.each([
      ['text/plain', 'reference=x', 'text/plain'],
      ['a form (curl -d)', 'reference=x', 'application/x-www-form-urlencoded'],
    ])('%s gets 415', async (_what, body, contentType) => {
      for (const path of ['/v1/verifications', '/v1/verifications/bundle', '/v1/probes']) {
        const response = await post(path, body, contentType);
        expect(response.status).toBe(415);
        const problem = await problemOf(response);
        expect(problem.code).toBe('UNSUPPORTED_MEDIA_TYPE');
        expect(problem.detail).toMatch(new RegExp(`${contentType.replace('/', '\\/')} is not accepted here: send application/json$`));
      }
    });
  });

  describe('slow and lying clients', () => {
    const stalledUploads: string[] = [];
    const head = (path: string, contentType: string, length: number) =>
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_ADMIN_KEY}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`;
    const expectCutForIdleBody = (exchange: RawExchange) => {
      expect(exchange.status).toBe(408);
      expect(exchange.problem).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
      expect(exchange.problem!.detail).toMatch(/HTTP_BODY_IDLE_TIMEOUT_MS/);
      // Closed once the idle limit has passed, not before and not much later (a loaded machine gets slack).
      expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(BODY_IDLE_MS);
      expect(exchange.closedAfterMs).toBeLessThan(BODY_IDLE_MS + 4_000);
    };

    it('a Content-Length larger than the body, then silence, gets 408 and a closed connection; other requests are answered meanwhile', async () => {
      // Through the proxy, which sees whether the upload sessions are cancelled.
      const rawRepository = `${proxy.host}/e2e/input-${randomUUID().slice(0, 12)}`;
      const formRepository = `${proxy.host}/e2e/input-${randomUUID().slice(0, 12)}`;
      stalledUploads.push(rawRepository, formRepository);
      const boundary = 'x-stalled-form';
      const formStart =
        `--${boundary}\r\nContent-Disposition: form-data; name="repository"\r\n\r\n${formRepository}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="hello.wasm"\r\nContent-Type: application/wasm\r\n\r\n`;

      const exchanges = Promise.all([
        rawRequest(port, [head('/v1/verifications', 'application/json', 1000) + '{"reference":']),
        rawRequest(port, [head(`/v1/artifacts?repository=${encodeURIComponent(rawRepository)}&tag=v1`, 'application/wasm', wasm.length), wasm.subarray(0, 1024)]),
        rawRequest(port, [head('/v1/artifacts', `multipart/form-data; boundary=${boundary}`, formStart.length + wasm.length + 100), formStart, wasm.subarray(0, 1024)]),
      ]);
      // While they stall, the service answers.
      await sleep(200);
      const live = await service.fetch('/health/live', { signal: AbortSignal.timeout(2_000) });
      expect(live.status).toBe(200);
      const probe = await post('/v1/probes', '{}', 'application/json');
      expect(probe.status).toBe(202);

      const [json, raw, form] = await exchanges;
      expectCutForIdleBody(json);
      expectCutForIdleBody(raw);
      expectCutForIdleBody(form);
    });

    it('headers sent slowly get 408 and a closed connection within the headers limit', async () => {
      const lines = ['GET /health/live HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n', ...Array.from({ length: 20 }, (_, i) => `X-Slow-${i}: drip\r\n`), '\r\n'];
      const exchange = await rawRequest(port, lines, { gapMs: 300, giveUpMs: 10_000 });
      expect(exchange.status).toBe(408);
      expect(exchange.problem).toMatchObject({ code: 'REQUEST_TIMEOUT' });
      expect(exchange.problem!.detail).toMatch(/HTTP_HEADERS_TIMEOUT_MS/);
      expect(exchange.closedAfterMs).toBeLessThan(HEADERS_MS + 4_000);
    });

    it('leaves nothing of a stalled upload: the upload session cancelled, no tag or manifest in the registry, no job', async () => {
      expect(stalledUploads).toHaveLength(2);
      for (const repository of stalledUploads) {
        const path = repository.slice(proxy.host.length + 1);
        // The session was opened, then deleted (the service cancels it once the body fails).
        expect(proxy.requests).toContainEqual(expect.stringMatching(new RegExp(`^POST /v2/${path}/blobs/uploads/`)));
        await eventually(
          async () => (proxy.requests.some((r) => r.startsWith(`DELETE /v2/${path}/blobs/uploads/`)) ? true : undefined),
          10_000,
          `the upload session of ${path} to be cancelled`,
        );
        expect(proxy.requests.filter((r) => r.startsWith(`PUT /v2/${path}/`))).toEqual([]);
        expect(await registry.tags(path)).toEqual([]);
        expect((await registry.manifest(path, 'v1')).status).toBe(404);
      }
      const jobs = await database.query<{ type: string }>('select type from jobs');
      // The probe job of the test above is the only one.
      expect(jobs.map((j) => j.type)).toEqual(['probe']);
    });
  });
});
