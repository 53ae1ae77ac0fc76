import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type AddressInfo, type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

interface Problem {
  status: number;
  code: string;
  detail: string;
  registry?: string;
}

/**
 * The registry egress policy, end to end: references to internal addresses and to registries outside
 * REGISTRY_ALLOWED_HOSTS are refused at request time with 403, before any connection is made and before
 * anything is queued, on every path that names a registry (sign, upload, verify).
 */
describe('registry egress policy', () => {
  const env = testEnvironment();
  const [, registryPort] = env.stackEnv.LOCAL_REGISTRY!.split(':') as [string, string];
  let database: TestDatabase;
  /** No internal address allowed; the allowed hosts include internal ones, so that their address is what refuses them. */
  let strict: ServiceProcess;
  /** A listener on loopback that counts the connections it gets: a registry the service must never reach. */
  let trap: { server: Server; port: number; connections: number };

  const jobCount = async () => Number((await database.query<{ n: string }>('select count(*) as n from jobs'))[0]!.n);
  const sign = (service: ServiceProcess, reference: string) =>
    service.fetch('/v1/signatures', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reference }) });
  const upload = (service: ServiceProcess, repository: string) =>
    service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
  const verify = (service: ServiceProcess, reference: string) =>
    service.fetch('/v1/verifications', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference, policy: { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL } }),
    });

  const expectRefused = async (response: Response, code: 'REGISTRY_NOT_ALLOWED' | 'REGISTRY_ADDRESS_REFUSED', registry: string) => {
    const body = (await response.json()) as Problem;
    expect({ status: response.status, type: response.headers.get('content-type'), code: body.code, registry: body.registry }).toEqual({
      status: 403,
      type: expect.stringContaining('application/problem+json'),
      code,
      registry,
    });
    return body;
  };

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    const server = createServer((socket) => {
      trap.connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    trap = { server, port: (server.address() as AddressInfo).port, connections: 0 };
    strict = await ServiceProcess.start(
      testServiceEnv(database.url, 'egress', {
        REGISTRY_PRIVATE_ALLOWLIST: '',
        REGISTRY_ALLOWED_HOSTS: `localhost,169.254.169.254,[fd00:ec2::254],metadata.google.internal,*.internal.example`,
        REGISTRY_INSECURE_HOSTS: `localhost:${trap.port},localhost:${registryPort}`,
      }),
    );
  });

  afterAll(async () => {
    await strict?.stop();
    await new Promise((resolve) => trap?.server.close(resolve));
    await database?.drop();
  });

  it('refuses cloud metadata addresses and names: 403 REGISTRY_ADDRESS_REFUSED', async () => {
    const before = await jobCount();
    const aws = await expectRefused(await sign(strict, '169.254.169.254/latest/meta-data:v1'), 'REGISTRY_ADDRESS_REFUSED', '169.254.169.254');
    expect(aws.detail).toMatch(/169\.254\.169\.254 is an internal address .*REGISTRY_PRIVATE_ALLOWLIST/);
    await expectRefused(await verify(strict, '[fd00:ec2::254]/latest/api:v1'), 'REGISTRY_ADDRESS_REFUSED', '[fd00:ec2::254]');
    const gcp = await expectRefused(await upload(strict, 'metadata.google.internal/computemetadata/v1'), 'REGISTRY_ADDRESS_REFUSED', 'metadata.google.internal');
    expect(gcp.detail).toMatch(/cloud metadata service/);
    expect(await jobCount()).toBe(before);
  });

  it('refuses a host name that resolves to loopback, on every path, without connecting to it', async () => {
    const before = await jobCount();
    const registry = `localhost:${trap.port}`;
    const signed = await expectRefused(await sign(strict, `${registry}/e2e/app:v1`), 'REGISTRY_ADDRESS_REFUSED', registry);
    expect(signed.detail).toMatch(/localhost resolves to (127\.0\.0\.1|::1), an internal address/);
    await expectRefused(await upload(strict, `${registry}/e2e/app`), 'REGISTRY_ADDRESS_REFUSED', registry);
    await expectRefused(await verify(strict, `${registry}/e2e/app:v1`), 'REGISTRY_ADDRESS_REFUSED', registry);
    const form = new FormData();
    form.set('repository', `${registry}/e2e/app`);
    form.set('file', new Blob([component]), 'app.wasm');
    await expectRefused(await strict.fetch('/v1/artifacts', { method: 'POST', body: form }), 'REGISTRY_ADDRESS_REFUSED', registry);
    expect(trap.connections).toBe(0);
    expect(await jobCount()).toBe(before);
  });

  it('refuses a registry outside REGISTRY_ALLOWED_HOSTS before resolving it: 403 REGISTRY_NOT_ALLOWED', async () => {
    const before = await jobCount();
    const refused = await expectRefused(await sign(strict, 'registry.example.com/team/app:v1'), 'REGISTRY_NOT_ALLOWED', 'registry.example.com');
    expect(refused.detail).toMatch(/not one this service may use \(REGISTRY_ALLOWED_HOSTS\)/);
    await expectRefused(await upload(strict, 'internal.example/team/app'), 'REGISTRY_NOT_ALLOWED', 'internal.example');
    await expectRefused(await verify(strict, `127.0.0.1:${trap.port}/team/app:v1`), 'REGISTRY_NOT_ALLOWED', `127.0.0.1:${trap.port}`);
    expect(trap.connections).toBe(0);
    expect(await jobCount()).toBe(before);
  });

  it('reaches the same loopback registry once REGISTRY_PRIVATE_ALLOWLIST names it', async () => {
    const allowed = await ServiceProcess.start(
      testServiceEnv(database.url, 'egress-allowed', {
        REGISTRY_PRIVATE_ALLOWLIST: 'localhost',
        REGISTRY_ALLOWED_HOSTS: 'localhost',
        REGISTRY_INSECURE_HOSTS: `localhost:${registryPort}`,
      }),
    );
    try {
      const repository = `localhost:${registryPort}/e2e/egress-${randomUUID().slice(0, 8)}`;
      expect((await upload(strict, repository)).status).toBe(403);
      const response = await upload(allowed, repository);
      expect({ status: response.status, body: response.status === 202 ? '' : await response.text() }).toEqual({ status: 202, body: '' });
      // The stack's own registry, by the address the default test environment allows, is not in this service's REGISTRY_ALLOWED_HOSTS.
      await expectRefused(await sign(allowed, `${env.stackEnv.LOCAL_REGISTRY}/e2e/app:v1`), 'REGISTRY_NOT_ALLOWED', env.stackEnv.LOCAL_REGISTRY!);
    } finally {
      await allowed.stop();
    }
  });
});
