import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess, eventually, sleep } from './support/service-process';
import { sniffingProxy } from './support/sniffing-proxy';
import { TestDatabase } from './support/test-database';
import { testEnvironment, testServiceEnv } from './support/test-environment';

const MiB = 1024 * 1024;
/** The upload: twice the memory the service may grow by while it streams it. */
const BODY_BYTES = 200 * MiB;
const MAX_GROWTH_BYTES = BODY_BYTES / 2;
const CHUNK_BYTES = 64 * 1024;

/**
 * A valid core module of exactly `size` bytes, made as it is sent and never held whole: the preamble,
 * then one custom section (id 0) named `e2e.payload` whose payload fills the rest (a random head, so
 * that each module has its own digest, then one repeated chunk).
 */
function* largeCoreModule(size: number): Generator<Buffer> {
  const name = Buffer.from('e2e.payload');
  const preamble = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const sizeField = 5; // a padded 5-byte LEB128, so the header's length does not depend on the size
  const sectionPayload = size - preamble.length - 1 - sizeField;
  const leb = Buffer.alloc(sizeField);
  for (let i = 0, v = sectionPayload; i < sizeField; i++, v = Math.floor(v / 128)) leb[i] = (v & 0x7f) | (i < sizeField - 1 ? 0x80 : 0);
  yield Buffer.concat([preamble, Buffer.from([0x00]), leb, Buffer.from([name.length]), name, randomBytes(32)]);
  let left = sectionPayload - 1 - name.length - 32;
  const filler = randomBytes(CHUNK_BYTES);
  while (left > 0) {
    const n = Math.min(left, CHUNK_BYTES);
    yield n === CHUNK_BYTES ? filler : filler.subarray(0, n);
    left -= n;
  }
}

const rss = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/**
 * Sends `chunks` as a raw application/wasm POST with a Content-Length, respecting backpressure. With
 * `abortAfter`, the connection is destroyed once that many bytes were written (a client that goes away).
 */
function upload(service: ServiceProcess, path: string, length: number, chunks: Iterable<Buffer>, abortAfter?: number): Promise<{ status: number; body: string } | 'aborted'> {
  return new Promise((resolve, reject) => {
    const req = request(`${service.baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.env.BOOTSTRAP_ADMIN_API_KEY}`, 'content-type': 'application/wasm', 'content-length': String(length) },
    });
    req.on('response', (response) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.on('end', () => resolve({ status: response.statusCode!, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', (error) => (abortAfter === undefined ? reject(error) : resolve('aborted')));
    const iterator = chunks[Symbol.iterator]();
    let sent = 0;
    const write = () => {
      for (;;) {
        if (abortAfter !== undefined && sent >= abortAfter) {
          req.destroy();
          resolve('aborted');
          return;
        }
        const next = iterator.next();
        if (next.done) return void req.end();
        sent += next.value.length;
        if (!req.write(next.value)) return void req.once('drain', write);
      }
    };
    write();
  });
}

/**
 * A large .wasm streams through POST /v1/artifacts into the registry in bounded memory, and a client
 * that goes away mid-upload leaves nothing behind: no blob, no tag, no job.
 */
describe('large uploads', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  let database: TestDatabase;
  let service: ServiceProcess;
  let proxy: Awaited<ReturnType<typeof sniffingProxy>>;

  beforeAll(async () => {
    proxy = await sniffingProxy(registryHost);
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(
      // ROLE=api: the accepted upload is queued, not published; what is measured is the upload alone.
      testServiceEnv(database.url, 'large-upload', {
        ROLE: 'api',
        LOG_LEVEL: 'warn',
        MAX_UPLOAD_BYTES: String(BODY_BYTES + MiB),
        REGISTRY_INSECURE_HOSTS: `${env.stackEnv.REGISTRY_INSECURE_HOSTS},${proxy.host}`,
      }),
    );
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    await proxy?.close();
  });

  it('streams a 200 MiB module into the registry while the service grows by less than half of it', async () => {
    const repository = `${registryHost}/e2e/large-${randomUUID().slice(0, 12)}`;
    const pid = service.child.pid!;
    // Warm up (first request, connections), so that start-up allocations do not count as the upload's.
    const small = [...largeCoreModule(MiB)];
    const warm = await upload(service, `/v1/artifacts?repository=${encodeURIComponent(`${repository}-warm`)}`, MiB, small);
    expect(warm).toMatchObject({ status: 202 });
    await sleep(200);

    const hash = createHash('sha256');
    const hashing = function* () {
      for (const chunk of largeCoreModule(BODY_BYTES)) {
        hash.update(chunk);
        yield chunk;
      }
    };
    const before = rss(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 10);
    let answer: Awaited<ReturnType<typeof upload>>;
    try {
      answer = await upload(service, `/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, BODY_BYTES, hashing());
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, rss(pid));
    expect(answer).toMatchObject({ status: 202 });
    const digest = `sha256:${hash.digest('hex')}`;

    // Bounded: a body held whole (or copied whole) would grow the service by at least its size.
    expect(peak - before).toBeLessThan(MAX_GROWTH_BYTES);
    // The job carries the blob's digest and size, and the registry holds exactly those bytes.
    const job = JSON.parse((answer as { body: string }).body) as { id: string };
    const [row] = await database.query<{ input: { wasm: { digest: string; size: number; kind: string } } }>('select input from jobs where id = $1', [job.id]);
    expect(row!.input.wasm).toMatchObject({ digest, size: BODY_BYTES, kind: 'module' });
    const path = repository.slice(registryHost.length + 1);
    const head = await fetch(`http://${registryHost}/v2/${path}/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(BODY_BYTES));
  }, 120_000);

  it('a client that goes away mid-upload leaves nothing half-written: the session cancelled, no blob committed, no tag, no job', async () => {
    const repository = `${proxy.host}/e2e/large-${randomUUID().slice(0, 12)}`;
    const path = repository.slice(proxy.host.length + 1);
    const jobsBefore = await database.query<{ n: string }>('select count(*)::text as n from jobs');
    const outcome = await upload(service, `/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, BODY_BYTES, largeCoreModule(BODY_BYTES), 40 * MiB);
    expect(outcome).toBe('aborted');

    // The service opened an upload session and streamed into it, then cancelled it; nothing was committed.
    await eventually(
      async () => (proxy.requests.some((r) => r.startsWith(`DELETE /v2/${path}/blobs/uploads/`)) ? true : undefined),
      20_000,
      `the upload session of ${path} to be cancelled`,
    );
    expect(proxy.requests).toContainEqual(expect.stringMatching(new RegExp(`^PATCH /v2/${path}/blobs/uploads/`)));
    expect(proxy.requests.filter((r) => r.startsWith(`PUT /v2/${path}/`))).toEqual([]);
    expect(await registry.tags(path)).toEqual([]);
    expect((await registry.manifest(path, 'v1')).status).toBe(404);
    expect(await database.query('select count(*)::text as n from jobs')).toEqual(jobsBefore);
    // And the service carries on.
    expect((await service.fetch('/health/live')).status).toBe(200);
  }, 120_000);
});
