import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

const CLI = join(REPO_ROOT, 'dist/src/cli/wasm-signer.js');
const HELLO_HTTP = join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm');
const HELLO_COMMAND = join(REPO_ROOT, 'test/fixtures/builds/hello-command');
const HELLO_OUTPUT = 'hello from a sandboxed build';

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built command line as a pipeline runs it: a child process, its environment, its exit status. */
function cli(args: string[], env: Record<string, string> = {}, timeout = 180_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Copies a manifest and its blobs to another repository of the same registry, as any OCI client could: an unsigned twin. */
async function copyUnsigned(registryHost: string, from: string, to: string, digest: string): Promise<void> {
  const registry = new RegistryReader(registryHost);
  const manifest = await registry.manifest(from, digest);
  for (const descriptor of [manifest.json!.config, ...manifest.json!.layers] as { digest: string }[]) {
    const bytes = (await registry.blob(from, descriptor.digest))!;
    const start = await fetch(`http://${registryHost}/v2/${to}/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    const location = new URL(start.headers.get('location')!, `http://${registryHost}`);
    location.searchParams.set('digest', descriptor.digest);
    const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(put.status).toBe(201);
  }
  const put = await fetch(`http://${registryHost}/v2/${to}/manifests/${digest}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest.bytes,
  });
  expect(put.status).toBe(201);
}

/**
 * `wasm-signer`, the command-line client, end to end: the built script against a running service, the
 * real registry and the local Sigstore stack; what a pipeline sees (output and exit status).
 */
describe('wasm-signer command line', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const identity = env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL!;
  const suffix = randomUUID().slice(0, 8);
  const repository = `${registryHost}/e2e-cli/hello-http-${suffix}`;
  const commandRepository = `${registryHost}/e2e-cli/hello-command-${suffix}`;
  const policy = ['--certificate-identity', identity, '--certificate-oidc-issuer', issuer];
  let database: TestDatabase;
  let service: ServiceProcess;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    // Builds on, in a work directory the sandbox's user can reach (as test/builds.e2e-spec.ts sets it up).
    const workDir = mkdtempSync(join(tmpdir(), 'wasm-signer-cli-work-'));
    chmodSync(workDir, 0o711);
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'cli', { BUILD_WORKER: 'also', BUILD_WORK_DIR: workDir, RATE_LIMIT_BUILDS_PER_MINUTE: '0', BUILD_TIMEOUT_MS: '180000' }),
    );
    cliEnv = { WASM_SIGNER_URL: service.baseUrl, WASM_SIGNER_TOKEN: TEST_ADMIN_KEY };
  }, 60_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  describe('publish, verify, jobs, tlog', () => {
    let published: CliRun;
    let jobId: string;
    let logIndex: number;
    let uuid: string;

    beforeAll(async () => {
      published = await cli(['publish', HELLO_HTTP, '--repository', repository, '--tag', 'v1', '-a', 'com.example.stage=prod'], cliEnv);
    }, 120_000);

    it('publishes: waits for the job, reports its steps line by line, prints reference, digests and log indices', () => {
      expect(published.stderr).not.toContain('wasm-signer:');
      expect(published.code).toBe(0);
      // Not a terminal: one plain line per change, the last one the finished job.
      const progress = published.stderr.trim().split('\n');
      expect(progress.at(-1)).toMatch(/^publish [0-9a-f]{8} succeeded: .*sign succeeded/);
      expect(published.stderr).not.toContain('\r');
      const job = /^job +([0-9a-f-]{36}) publish succeeded$/m.exec(published.stdout);
      expect(job).not.toBeNull();
      jobId = job![1]!;
      expect(published.stdout).toMatch(new RegExp(`^reference +${repository.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`, 'm'));
      expect(published.stdout).toMatch(/^manifest +sha256:[0-9a-f]{64}$/m);
      expect(published.stdout).toMatch(/^wasm +sha256:[0-9a-f]{64}$/m);
      const signatures = [...published.stdout.matchAll(/^signature +(\S+) log index (\d+) uuid ([0-9a-f]+)$/gm)];
      expect(signatures.map((s) => s[1]).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
      logIndex = Number(signatures[0]![2]);
      uuid = signatures[0]![3]!;
      expect(published.stdout).toMatch(/^verified +true$/m);
    });

    it('jobs get: the same job as JSON with --output json (and nothing else on stdout)', async () => {
      const run = await cli(['jobs', 'get', jobId, '--output', 'json'], cliEnv);
      expect(run.code).toBe(0);
      const job = JSON.parse(run.stdout);
      expect(job).toMatchObject({ id: jobId, state: 'succeeded', result: { reference: expect.stringContaining(`${repository}@sha256:`) } });
      const watched = await cli(['jobs', 'watch', jobId], cliEnv);
      expect(watched.code).toBe(0);
      expect(watched.stdout).toContain(`job        ${jobId} publish succeeded`);
    });

    it('verifies with the signer identity and issuer (exact and regexp): exit 0, digest and log indices printed', async () => {
      const run = await cli(['verify', `${repository}:v1`, ...policy], cliEnv);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^verified +true$/m);
      expect(run.stdout).toMatch(/^digest +sha256:[0-9a-f]{64}$/m);
      expect(run.stdout).toMatch(/^signature +cosign-classic verified, log index \d+, identity /m);
      expect(run.stdout).toMatch(/^signature +sigstore-bundle verified, log index \d+, identity /m);

      const byRegExp = await cli(
        [
          'verify',
          `${repository}:v1`,
          '--certificate-identity-regexp',
          'https://kubernetes\\.io/namespaces/wasm-signer/.+',
          '--certificate-oidc-issuer-regexp',
          '.*',
          '-o',
          'json',
        ],
        cliEnv,
      );
      expect(byRegExp.code).toBe(0);
      expect(JSON.parse(byRegExp.stdout)).toMatchObject({ verified: true, reference: expect.stringContaining(`${repository}@sha256:`) });

      const withAnnotation = await cli(['verify', `${repository}:v1`, ...policy, '-a', 'dev.wasm-signer.requested-by=oidc:https://elsewhere#someone', '-o', 'json'], cliEnv);
      expect(withAnnotation.code).toBe(1);
      expect(JSON.parse(withAnnotation.stdout).verified).toBe(false);
    });

    it('a failed verification exits 1 and says why', async () => {
      const run = await cli(['verify', `${repository}:v1`, '--certificate-identity', 'https://example.com/someone-else', '--certificate-oidc-issuer', issuer], cliEnv);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^verified +false$/m);
      expect(run.stdout).toMatch(/^signature +cosign-classic not verified \(POLICY_IDENTITY_MISMATCH\), log index \d+/m);
      expect(run.stdout).toMatch(/^error +NO_VERIFIED_SIGNATURE: /m);
    });

    it('tlog get: the Rekor entry by log index and by UUID, with the fields rekor-cli get prints', async () => {
      const byIndex = await cli(['tlog', 'get', '--log-index', String(logIndex)], cliEnv);
      expect(byIndex.code).toBe(0);
      expect(byIndex.stdout).toMatch(/^LogID: [0-9a-f]{64}$/m);
      expect(byIndex.stdout).toContain(`Index: ${logIndex}\n`);
      expect(byIndex.stdout).toMatch(/^IntegratedTime: \S+$/m);
      expect(byIndex.stdout).toContain(`UUID: ${uuid}\n`);
      expect(byIndex.stdout).toMatch(/^Body: \{/m);
      const byUuid = await cli(['tlog', 'get', '--uuid', uuid, '-o', 'json'], cliEnv);
      expect(byUuid.code).toBe(0);
      expect(JSON.parse(byUuid.stdout)).toMatchObject({ Index: logIndex, UUID: uuid });
    });

    it('a refused request exits 1 with the problem code; bad usage exits 2; an unreachable service exits 3', async () => {
      const refused = await cli(['jobs', 'get', jobId], { ...cliEnv, WASM_SIGNER_TOKEN: 'wsk_not-a-key-of-this-service' });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^wasm-signer: 401 [A-Z_]+: /);

      for (const args of [
        ['verify', `${repository}:v1`, '--certificate-identity', identity],
        ['verify', `${repository}:v1`, ...policy, '--certificate-identity-regexp', '.*'],
        ['publish', HELLO_HTTP],
        ['tlog', 'get'],
        ['no-such-command'],
        ['jobs', 'get'],
        ['publish', HELLO_HTTP, '--repository', repository, '--no-such-option'],
      ]) {
        const run = await cli(args, cliEnv);
        expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' });
        expect(run.stderr).toMatch(/^wasm-signer: /);
      }

      const unreachable = await cli(['verify', `${repository}:v1`, ...policy], { ...cliEnv, WASM_SIGNER_URL: `http://127.0.0.1:${await closedPort()}` });
      expect(unreachable.code).toBe(3);
      expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      const unresolvable = await cli(['jobs', 'get', jobId, '--url', 'http://wasm-signer.invalid'], cliEnv);
      expect(unresolvable.code).toBe(3);
      expect(unresolvable.stderr).toContain('host name not resolved');
    });
  });

  describe('build, then verify before run', () => {
    let built: CliRun;
    let reference: string;

    beforeAll(async () => {
      built = await cli(['build', HELLO_COMMAND, '--builder', 'cargo', '--repository', commandRepository, '--tag', 'v1'], cliEnv);
    }, 200_000);

    it('builds a directory on the service: packed, built, pushed, signed, attested, verified', () => {
      expect(built.stderr).not.toContain('wasm-signer:');
      expect(built.code).toBe(0);
      expect(built.stdout).toMatch(/^job +\S+ build succeeded$/m);
      expect(built.stdout).toMatch(/^provenance +log index \d+$/m);
      reference = /^reference +(\S+)$/m.exec(built.stdout)![1]!;
    });

    it('runs the verified component: pulled by the verified digest, its output on stdout, its exit status', async () => {
      const run = await cli(['run', `${commandRepository}:v1`, ...policy], cliEnv);
      expect(run.stdout).toBe(`${HELLO_OUTPUT}\n`);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/^verified +true$/m);
      expect(run.stderr).toContain(`running ${reference} (wasm sha256:`);
    }, 120_000);

    it('runs nothing when the signer is not the one the policy names', async () => {
      const run = await cli(['run', reference, '--certificate-identity', 'https://example.com/someone-else', '--certificate-oidc-issuer', issuer], cliEnv);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('POLICY_IDENTITY_MISMATCH');
      expect(run.stderr).toContain('not run:');
    });

    it('runs nothing unsigned; once signed with `sign`, the same digest runs', async () => {
      const digest = reference.split('@')[1]!;
      const unsignedPath = `e2e-cli/unsigned-${suffix}`;
      await copyUnsigned(registryHost, commandRepository.slice(registryHost.length + 1), unsignedPath, digest);
      const unsigned = `${registryHost}/${unsignedPath}@${digest}`;

      const refused = await cli(['run', unsigned, ...policy], cliEnv);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(/^verified +false$/m);
      expect(refused.stderr).toContain('not run:');

      const signed = await cli(['sign', unsigned, '-o', 'json'], cliEnv);
      expect(signed.code).toBe(0);
      expect(JSON.parse(signed.stdout)).toMatchObject({ type: 'sign', state: 'succeeded' });
      const run = await cli(['run', unsigned, ...policy, '--max-age', '0'], cliEnv);
      expect(run.stdout).toBe(`${HELLO_OUTPUT}\n`);
      expect(run.code).toBe(0);
    }, 120_000);
  });
});
