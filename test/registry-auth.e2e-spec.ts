import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthRegistry, TokenServer, htpasswdFile } from './support/auth-registry';
import { finishedJob, type JobView } from './support/jobs';
import { hasTool } from './support/required-tool';
import { ServiceProcess, tempDir } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));
const USER = 'ci-publisher';
const PASSWORD = `pw-${randomUUID()}`;

function emptyDockerConfig(): string {
  const dir = tempDir('docker-config');
  writeFileSync(join(dir, 'config.json'), '{"auths":{}}');
  return dir;
}

/**
 * Publishing to a real registry (distribution 2.8) that demands credentials: htpasswd (Basic) and token
 * authentication (Bearer, from a token server). Each registry is reached under three names, each with
 * its own REGISTRY_CREDENTIALS entry: the right credentials, wrong ones, and none (a proxy's address).
 */
(hasTool('docker-registry', ['--version']) ? describe : describe.skip)('registry authentication against a real registry', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let tokens: TokenServer;
  const registries: Record<'htpasswd' | 'token', AuthRegistry | undefined> = { htpasswd: undefined, token: undefined };
  const proxies: TcpProxy[] = [];
  /** Per registry: the host:port names it is reached under. */
  const names: Record<'htpasswd' | 'token', { right: string; wrong: string; none: string }> = {} as never;
  let service: ServiceProcess;

  beforeAll(async () => {
    registries.htpasswd = await AuthRegistry.start(['  htpasswd:', '    realm: test-registry', `    path: ${JSON.stringify(htpasswdFile(USER, PASSWORD))}`].join('\n'));
    tokens = await TokenServer.start(USER, PASSWORD);
    registries.token = await AuthRegistry.start(tokens.registryAuth());
    const credentials: Record<string, { username: string; password: string }> = {};
    for (const mode of ['htpasswd', 'token'] as const) {
      const port = registries[mode]!.address.split(':')[1]!;
      const proxy = await TcpProxy.start('127.0.0.1', Number(port));
      proxies.push(proxy);
      names[mode] = { right: `127.0.0.1:${port}`, wrong: `localhost:${port}`, none: `127.0.0.1:${proxy.port}` };
      credentials[names[mode].right] = { username: USER, password: PASSWORD };
      credentials[names[mode].wrong] = { username: USER, password: 'not-the-password' };
    }
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start({
      ...env.stackEnv,
      DATABASE_URL: database.url,
      REDIS_URL: env.redisUrl,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      // Plain HTTP on loopback: the registries under every name, and the token realm.
      REGISTRY_INSECURE_HOSTS: [...Object.values(names).flatMap((n) => [n.right, n.wrong, n.none]), new URL(tokens.realm).host].join(','),
      REGISTRY_CREDENTIALS: JSON.stringify(credentials),
      // No credentials from the Docker config of the machine running the tests.
      DOCKER_CONFIG: emptyDockerConfig(),
    });
  }, 60_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    for (const proxy of proxies) await proxy.close();
    for (const registry of Object.values(registries)) await registry?.stop();
    await tokens?.stop();
  });

  const upload = (repository: string) =>
    service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });

  describe.each(['htpasswd', 'token'] as const)('%s', (mode) => {
    it('with the right credentials: published, signed and verified through the registry', async () => {
      const repository = `${names[mode].right}/e2e/auth-${randomUUID().slice(0, 8)}`;
      const response = await upload(repository);
      if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
      const job = await finishedJob(service, ((await response.json()) as JobView).id, 90_000);
      expect([job.state, job.error]).toEqual(['succeeded', null]);
      expect(job.result).toMatchObject({ repository, verification: { verified: true } });

      // The registry holds it, for a client with the credentials; not for one without.
      const path = repository.slice(names[mode].right.length + 1);
      const manifestUrl = `http://${names[mode].right}/v2/${path}/manifests/v1`;
      expect((await fetch(manifestUrl)).status).toBe(401);
      if (mode === 'htpasswd') {
        const authorized = await fetch(manifestUrl, {
          headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
        });
        expect(authorized.status).toBe(200);
        expect(authorized.headers.get('docker-content-digest')).toBe(job.result!.manifestDigest);
      } else {
        expect(tokens.issued).toContainEqual({ account: USER, scopes: expect.arrayContaining([`repository:${path}:pull,push`]) });
      }
    });

    it.each(['wrong', 'none'] as const)('with %s credentials: 422 REGISTRY_UNAUTHORIZED, nothing pushed', async (which) => {
      const repository = `${names[mode][which]}/e2e/auth-${randomUUID().slice(0, 8)}`;
      const response = await upload(repository);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect([response.status, await response.json()]).toMatchObject([422, { code: 'REGISTRY_UNAUTHORIZED', registry: names[mode][which] }]);
      const jobs = await database.query<{ n: string }>('select count(*) as n from jobs where input::text like $1', [`%${repository}%`]);
      expect(Number(jobs[0]!.n)).toBe(0);
    });
  });
});
