import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { type GitHttpServer, startGitHttpServer } from './support/git-http-server';
import { finishedJob, type JobView } from './support/jobs';
import { RegistryReader } from './support/registry-http';
import { ServiceProcess } from './support/service-process';
import { tarGzBytes, zipBytes } from './support/source-archives';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const run = promisify(execFile);
const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const JCO = join(REPO_ROOT, 'node_modules/@bytecodealliance/jco/dist/jco.js');
const SLSA = 'https://slsa.dev/provenance/v1';

/** A JavaScript component: a module exporting greet(), and its WIT world. */
const JS_SOURCE = [
  { name: 'index.js', content: 'export function greet(name) { return `Hello from a build, ${name}!`; }\n' },
  { name: 'wit/hello.wit', content: 'package e2e:hello;\n\nworld hello {\n  export greet: func(name: string) -> string;\n}\n' },
];

/** A Rust command crate whose output says where it came from. */
const rustCommand = (line: string, extra: Record<string, string> = {}) => ({
  'Cargo.toml': '[package]\nname = "hello-build"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
  'src/main.rs': `fn main() {\n    println!("${line}");\n}\n`,
  ...extra,
});
const entries = (files: Record<string, string>) => Object.entries(files).map(([name, content]) => ({ name, content }));

/**
 * What a build service needs besides the usual: builds on, no build budget, and a work directory the
 * sandbox's user can reach (the tests run as root, and the service's own data directory is private).
 */
function buildServiceEnv(databaseUrl: string, name: string, extra: Record<string, string>) {
  const workDir = mkdtempSync(join(tmpdir(), `wasm-signer-${name}-work-`));
  chmodSync(workDir, 0o711);
  return testServiceEnv(databaseUrl, name, { BUILD_WORKER: 'also', BUILD_WORK_DIR: workDir, RATE_LIMIT_BUILDS_PER_MINUTE: '0', ...extra });
}

/**
 * Builds end to end: source in (archive upload or git commit), a real toolchain in the bubblewrap
 * sandbox, a component out — pushed, signed, attested with SLSA provenance and verified — against the
 * real registry, the local Sigstore stack and a git server on loopback.
 */
describe('builds', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const registry = new RegistryReader(registryHost);
  const identity = env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!;
  const issuer = env.stackEnv.LOCAL_OIDC_ISSUER_URL!;
  let database: TestDatabase;
  let service: ServiceProcess;
  let git: GitHttpServer;

  beforeAll(async () => {
    git = await startGitHttpServer();
    database = await TestDatabase.create(env.postgresServerUrl);
    const gitHost = new URL(git.url).host;
    service = await ServiceProcess.start(
      buildServiceEnv(database.url, 'builds', {
        BUILD_GIT_ALLOWED_HOSTS: gitHost,
        BUILD_GIT_PRIVATE_ALLOWLIST: '127.0.0.1',
        BUILD_SOURCE_MAX_BYTES: String(2 * 1024 * 1024),
        BUILD_SOURCE_MAX_FILES: '100',
        BUILD_SOURCE_MAX_COMPRESSION_RATIO: '100',
        BUILD_TIMEOUT_MS: '180000',
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    await git?.close();
  });

  const newRepository = () => `${registryHost}/e2e-builds/${randomUUID().slice(0, 12)}`;
  const buildArchive = (query: Record<string, string>, body: Buffer, contentType = 'application/gzip') =>
    service.fetch(`/v1/builds?${new URLSearchParams(query)}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const problemOf = async (response: Response) => (await response.json()) as { code: string; detail: string; status: number };
  const pullLayer = async (repository: string, manifestDigest: string) => {
    const path = repository.slice(registryHost.length + 1);
    const manifest = await registry.manifest(path, manifestDigest);
    const layer = manifest.json!.layers[0] as { digest: string };
    const bytes = (await registry.blob(path, layer.digest))!;
    expect(sha256(bytes)).toBe(layer.digest);
    return bytes;
  };
  /** The provenance referrer of a manifest, read as any client would: the referrers fallback index, then the bundle's DSSE statement. */
  const provenanceOf = async (repository: string, manifestDigest: string) => {
    const path = repository.slice(registryHost.length + 1);
    const index = await registry.manifest(path, manifestDigest.replace(':', '-'));
    const descriptor = (index.json!.manifests as { digest: string; annotations?: Record<string, string> }[]).find(
      (m) => m.annotations?.['dev.sigstore.bundle.predicateType'] === SLSA,
    );
    expect(descriptor).toBeDefined();
    const referrer = await registry.manifest(path, descriptor!.digest);
    expect(referrer.json!.subject.digest).toBe(manifestDigest);
    const bundle = JSON.parse((await registry.blob(path, referrer.json!.layers[0].digest))!.toString('utf8'));
    expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    return { bundle, statement: JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) };
  };

  it('lists both builders as available on the build worker, with their toolchain versions', async () => {
    const response = await service.fetch('/v1/builders');
    expect(response.status).toBe(200);
    const builders = (await response.json()) as { name: string; available: boolean; workers: number; reason: string | null; toolchain: { name: string; version: string }[] }[];
    expect(builders.map((b) => [b.name, b.available, b.workers, b.reason])).toEqual([
      ['componentize-js', true, 1, null],
      ['cargo', true, 1, null],
    ]);
    const cargo = builders.find((b) => b.name === 'cargo')!;
    expect(cargo.toolchain.map((t) => t.name)).toEqual(expect.arrayContaining(['cargo', 'rustc']));
  });

  describe('a JavaScript component from a .tar.gz', () => {
    const repository = newRepository();
    let archive: Buffer;
    let job: JobView;
    const events: { event: string; data: string }[] = [];

    beforeAll(async () => {
      archive = await tarGzBytes(JS_SOURCE);
      const response = await buildArchive(
        { repository, tag: 'v1.0.0', builder: 'componentize-js', options: JSON.stringify({ entry: 'index.js', wit: 'wit', world: 'hello' }) },
        archive,
      );
      expect(response.status).toBe(202);
      const accepted = (await response.json()) as JobView;
      expect(accepted.steps.map((s) => s.name)).toEqual(['build', 'push', 'sign', 'attest', 'verify']);
      // The log as server-sent events, while the build runs.
      const stream = await service.fetch(`/v1/jobs/${accepted.id}/logs`, { headers: { accept: 'text/event-stream' } });
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      for (const block of (await stream.text()).split('\n\n')) {
        const event = /^event: (.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join('\n') });
      }
      job = await finishedJob(service, accepted.id, 180_000);
    }, 240_000);

    it('succeeds through build, push, sign, attest and verify', () => {
      expect(job.error).toBeNull();
      expect(job.steps.map((s) => [s.name, s.state])).toEqual([
        ['build', 'succeeded'],
        ['push', 'succeeded'],
        ['sign', 'succeeded'],
        ['attest', 'succeeded'],
        ['verify', 'succeeded'],
      ]);
      expect(job.result).toMatchObject({
        repository,
        tag: 'v1.0.0',
        build: { builder: 'componentize-js', source: { kind: 'archive', digest: sha256(archive) }, wasm: { kind: 'component' } },
        provenance: { predicateType: SLSA, builderId: identity, issuer, logIndex: expect.any(Number) },
        verification: { verified: true, provenance: { verified: true } },
      });
    });

    it('streamed the log while it ran and ended the stream with the build', async () => {
      expect(events.length).toBeGreaterThan(1);
      expect(events[events.length - 1]!.event).toBe('end');
      const streamed = events
        .filter((e) => e.event === 'log')
        .map((e) => (JSON.parse(e.data) as { text: string }).text)
        .join('');
      expect(streamed).toMatch(/building with componentize-js/);
      const log = await service.fetch(`/v1/jobs/${job.id}/logs`);
      expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await log.text();
      // What was streamed is the log, exactly.
      expect(streamed).toBe(text);
      expect(JSON.parse(events[events.length - 1]!.data)).toEqual({ truncated: false, bytes: Buffer.byteLength(text) });
      expect(text).toMatch(/built a component: sha256:/);
    });

    it('attached SLSA provenance that says how it was built, signed keyless, and recorded it', async () => {
      const { statement, bundle } = await provenanceOf(repository, job.result!.manifestDigest);
      expect(statement._type).toBe('https://in-toto.io/Statement/v1');
      expect(statement.predicateType).toBe(SLSA);
      const subjectDigests = statement.subject.map((s: { digest: { sha256: string } }) => `sha256:${s.digest.sha256}`);
      expect(subjectDigests.sort()).toEqual([job.result!.wasmDigest, job.result!.manifestDigest].sort());
      const { buildDefinition, runDetails } = statement.predicate;
      expect(buildDefinition.buildType).toBe('https://wasm-signer.dev/build-types/component/v1');
      expect(buildDefinition.externalParameters.source).toMatchObject({ kind: 'archive', digest: sha256(archive) });
      expect(buildDefinition.externalParameters.builder).toMatchObject({ name: 'componentize-js', options: { entry: 'index.js', wit: 'wit', world: 'hello' } });
      expect(buildDefinition.internalParameters.toolchain.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['node', '@bytecodealliance/componentize-js']));
      expect(buildDefinition.resolvedDependencies[0]).toMatchObject({ name: 'source', digest: { sha256: sha256(archive).slice(7) } });
      expect(runDetails.builder.id).toBe(identity);
      expect(runDetails.metadata.invocationId).toBe(job.id);
      const log = await (await service.fetch(`/v1/jobs/${job.id}/logs`)).text();
      expect(runDetails.byproducts).toEqual([expect.objectContaining({ name: 'build.log', digest: { sha256: sha256(log).slice(7) } })]);
      expect(Number(bundle.verificationMaterial.tlogEntries[0].logIndex)).toBe(job.result!.provenance.logIndex);

      const record = (await (await service.fetch(`/v1/builds/${job.id}`)).json()) as Record<string, any>;
      expect(record).toMatchObject({
        id: job.id,
        builder: 'componentize-js',
        source: { kind: 'archive', digest: sha256(archive) },
        logDigest: sha256(log),
        wasmDigest: job.result!.wasmDigest,
        attestations: [{ predicateType: SLSA, manifestDigest: job.result!.manifestDigest, logIndex: job.result!.provenance.logIndex, identity }],
      });
    });

    it('verifies against a provenance policy, and says which condition fails', async () => {
      const verify = async (provenance: Record<string, unknown>) => {
        const response = await service.fetch('/v1/verifications', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reference: `${repository}:v1.0.0`, policy: { certificateIdentity: identity, certificateOidcIssuer: issuer, provenance } }),
        });
        expect(response.status).toBe(200);
        return (await response.json()) as { verified: boolean; error: { code: string } | null; provenance: { verified: boolean; error: { code: string } | null } };
      };
      const passing = await verify({ builderId: identity, sourceDigest: sha256(archive), builder: 'componentize-js' });
      expect(passing).toMatchObject({ verified: true, provenance: { verified: true, error: null } });
      expect((await verify({ sourceDigest: sha256('another source') })).error?.code).toBe('PROVENANCE_SOURCE_MISMATCH');
      expect((await verify({ builder: 'cargo' })).error?.code).toBe('PROVENANCE_BUILDER_MISMATCH');
      expect((await verify({ builderId: 'https://example.com/another-builder' })).error?.code).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
    });

    it('runs: the component pulled by digest answers as its source says', async () => {
      const wasm = await pullLayer(repository, job.result!.manifestDigest);
      // Inside the checkout: the transpiled module imports @bytecodealliance/preview2-shim from its node_modules.
      mkdirSync(join(REPO_ROOT, '.local', 'tmp'), { recursive: true });
      const dir = mkdtempSync(join(REPO_ROOT, '.local', 'tmp', 'built-js-'));
      writeFileSync(join(dir, 'hello.wasm'), wasm);
      await run(process.execPath, [JCO, 'transpile', join(dir, 'hello.wasm'), '-o', join(dir, 'out'), '--quiet'], { timeout: 60_000 });
      const { stdout } = await run(process.execPath, [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(`file://${join(dir, 'out', 'hello.js')}`)}); console.log(m.greet('e2e'));`,
      ]);
      expect(stdout.trim()).toBe('Hello from a build, e2e!');
    }, 90_000);
  });

  describe('a Rust command from a form upload (.zip)', () => {
    const repository = newRepository();
    let job: JobView;

    beforeAll(async () => {
      const form = new FormData();
      form.append('repository', repository);
      form.append('builder', 'cargo');
      form.append('source', new Blob([await zipBytes(entries(rustCommand('hello from a zip build')))], { type: 'application/zip' }), 'hello.zip');
      const response = await service.fetch('/v1/builds', { method: 'POST', body: form });
      expect(response.status).toBe(202);
      job = await finishedJob(service, ((await response.json()) as JobView).id, 120_000);
    }, 150_000);

    it('is built with cargo, signed, attested and verified', () => {
      expect(job.error).toBeNull();
      expect(job.state).toBe('succeeded');
      expect(job.result).toMatchObject({ build: { builder: 'cargo', wasm: { kind: 'component' } }, verification: { verified: true, provenance: { verified: true } } });
    });

    it('runs: pulled by digest, it prints what its source says', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'wasm-signer-built-rust-'));
      writeFileSync(join(dir, 'hello.wasm'), await pullLayer(repository, job.result!.manifestDigest));
      const { stdout } = await run(process.execPath, [JCO, 'run', join(dir, 'hello.wasm')], { timeout: 60_000 });
      expect(stdout.trim()).toBe('hello from a zip build');
    }, 90_000);
  });

  describe('a Rust command from a git commit', () => {
    it('is fetched from the git server by full commit, built and attested with the git source', async () => {
      const repo = await git.createRepository(`hello-${randomUUID().slice(0, 8)}`, rustCommand('hello from git'));
      const repository = newRepository();
      const response = await service.fetch('/v1/builds', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ repository, builder: 'cargo', git: { url: repo.url, commit: repo.commit } }),
      });
      expect(response.status).toBe(202);
      const job = await finishedJob(service, ((await response.json()) as JobView).id, 120_000);
      expect(job.error).toBeNull();
      expect(job.result!.build.source).toMatchObject({ kind: 'git', url: repo.url, commit: repo.commit, tree: expect.stringMatching(/^[0-9a-f]{40}$/) });
      const { statement } = await provenanceOf(repository, job.result!.manifestDigest);
      expect(statement.predicate.buildDefinition.resolvedDependencies[0]).toEqual({ name: 'source', uri: `git+${repo.url}@${repo.commit}`, digest: { gitCommit: repo.commit } });
    }, 150_000);

    it('refuses a commit that is not a full id, and a host that is not allowed', async () => {
      const repo = await git.createRepository(`short-${randomUUID().slice(0, 8)}`, rustCommand('x'));
      const post = (source: { url: string; commit: string }) =>
        service.fetch('/v1/builds', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ repository: newRepository(), builder: 'cargo', git: source }),
        });
      const short = await post({ url: repo.url, commit: repo.commit.slice(0, 12) });
      expect(short.status).toBe(400);
      expect((await problemOf(short)).code).toBe('GIT_COMMIT_NOT_FULL');
      const branch = await post({ url: repo.url, commit: 'main' });
      expect((await problemOf(branch)).code).toBe('GIT_COMMIT_NOT_FULL');
      const elsewhere = await post({ url: 'https://git.example.com/team/hello.git', commit: repo.commit });
      expect(elsewhere.status).toBe(403);
      expect((await problemOf(elsewhere)).code).toBe('GIT_HOST_NOT_ALLOWED');
    });
  });

  describe('Idempotency-Key', () => {
    it('replays the job for the same archive and fields, and refuses the key for another archive', async () => {
      const repository = newRepository();
      const key = `build-${randomUUID()}`;
      const post = async (line: string) =>
        service.fetch(`/v1/builds?${new URLSearchParams({ repository, builder: 'cargo' })}`, {
          method: 'POST',
          headers: { 'content-type': 'application/gzip', 'idempotency-key': key },
          body: await tarGzBytes(entries(rustCommand(line))),
        });
      const first = await post('same source');
      expect(first.status).toBe(202);
      const again = await post('same source');
      expect(again.status).toBe(202);
      expect(((await again.json()) as JobView).id).toBe(((await first.json()) as JobView).id);
      const other = await post('another source');
      expect(other.status).toBe(422);
      expect((await problemOf(other)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    });
  });

  describe('hostile archives are refused before a job exists, naming the entry', () => {
    const refused = async (body: Buffer, contentType = 'application/gzip') => {
      const response = await buildArchive({ repository: newRepository(), builder: 'cargo' }, body, contentType);
      const problem = await problemOf(response);
      expect(response.headers.get('location')).toBeNull();
      return { ...problem, status: response.status };
    };

    it('a tar-slip entry', async () => {
      const problem = await refused(await tarGzBytes([...entries(rustCommand('x')), { name: '../../escape.txt', content: 'pwned' }]));
      expect(problem).toMatchObject({ status: 422, code: 'ARCHIVE_PATH_TRAVERSAL' });
      expect(problem.detail).toContain('escape.txt');
    });

    it('a symlink out of the tree', async () => {
      const problem = await refused(await tarGzBytes([...entries(rustCommand('x')), { name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }]));
      expect(problem).toMatchObject({ status: 422, code: 'ARCHIVE_LINK_ESCAPES' });
      expect(problem.detail).toContain('passwd');
    });

    it('a zip bomb', async () => {
      const bomb = await zipBytes([...entries(rustCommand('x')), { name: 'zeros.bin', content: Buffer.alloc(64 * 1024 * 1024) }]);
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const problem = await refused(bomb, 'application/zip');
      expect(problem.status).toBe(413);
      expect(['ARCHIVE_COMPRESSION_RATIO', 'ARCHIVE_TOO_LARGE']).toContain(problem.code);
      expect(problem.detail).toContain('zeros.bin');
    });

    it('an archive with more entries than allowed, and one larger than allowed', async () => {
      const many = await refused(await tarGzBytes(Array.from({ length: 150 }, (_, i) => ({ name: `f${i}.txt`, content: 'x' }))));
      expect(many).toMatchObject({ status: 413, code: 'ARCHIVE_TOO_MANY_FILES' });
      const large = await refused(await tarGzBytes([{ name: 'noise.bin', content: randomBytes(3 * 1024 * 1024) }]));
      expect(large).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    });

    it('a chunked body over the limit: 413 on the same connection, not a reset', async () => {
      const chunk = randomBytes(256 * 1024);
      const body = Readable.from(
        (function* () {
          for (let i = 0; i < 16; i++) yield chunk;
        })(),
      );
      const response = await service.fetch(`/v1/builds?${new URLSearchParams({ repository: newRepository(), builder: 'cargo' })}`, {
        method: 'POST',
        headers: { 'content-type': 'application/gzip' },
        body: Readable.toWeb(body) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(413);
      expect((await problemOf(response)).code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('a build id that is not a UUID is simply not found', async () => {
      const response = await service.fetch('/v1/builds/not-a-uuid');
      expect(response.status).toBe(404);
    });

    it('something that is not an archive', async () => {
      expect(await refused(Buffer.from('just text, not an archive'))).toMatchObject({ status: 422, code: 'ARCHIVE_FORMAT_UNSUPPORTED' });
    });
  });
});

/** Builds that misbehave, each stopped by the sandbox (a service with a short build time limit). */
describe('builds that misbehave', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const tokenFile = env.stackEnv.IDENTITY_TOKEN_FILE!;
  let database: TestDatabase;
  let service: ServiceProcess;
  let listener: Server;
  let connections = 0;

  beforeAll(async () => {
    listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(buildServiceEnv(database.url, 'hostile-builds', { BUILD_TIMEOUT_MS: '8000' }));
  }, 60_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
    listener?.close();
  });

  /** A Rust crate whose build script does `buildScript` (build scripts run on the build machine, at build time). */
  const buildWithScript = async (buildScript: string) => {
    const files = rustCommand('never printed', { 'build.rs': buildScript });
    const response = await service.fetch(`/v1/builds?${new URLSearchParams({ repository: `${registryHost}/e2e-builds/${randomUUID().slice(0, 12)}`, builder: 'cargo' })}`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: await tarGzBytes(entries(files)),
    });
    expect(response.status).toBe(202);
    const job = await finishedJob(service, ((await response.json()) as JobView).id, 90_000);
    const log = await (await service.fetch(`/v1/jobs/${job.id}/logs`)).text();
    return { job, log };
  };

  it('a build that loops forever is stopped at its time limit and reported', async () => {
    const started = Date.now();
    const { job, log } = await buildWithScript('fn main() { loop { std::hint::spin_loop(); } }\n');
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ code: 'BUILD_LIMIT_EXCEEDED', step: 'build' });
    expect(job.error!.message).toMatch(/wall|time/i);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(log).toMatch(/build failed: BUILD_LIMIT_EXCEEDED/);
  }, 90_000);

  it('a build that tries the network fails, and nothing reaches the network', async () => {
    const port = (listener.address() as { port: number }).port;
    const { job, log } = await buildWithScript(
      `fn main() {\n    match std::net::TcpStream::connect("127.0.0.1:${port}") {\n        Ok(_) => println!("cargo:warning=NETWORK REACHABLE"),\n        Err(e) => panic!("network unreachable: {}", e),\n    }\n}\n`,
    );
    expect(job.state).toBe('failed');
    expect(job.error?.code).toBe('BUILD_FAILED');
    expect(log).toMatch(/network unreachable/);
    expect(log).not.toMatch(/NETWORK REACHABLE/);
    expect(connections).toBe(0);
  }, 90_000);

  it("a build that reads the worker's identity token file finds nothing", async () => {
    const { job, log } = await buildWithScript(
      `fn main() {\n    match std::fs::read_to_string(${JSON.stringify(tokenFile)}) {\n        Ok(_) => panic!("TOKEN VISIBLE"),\n        Err(e) => println!("cargo:warning=token not visible: {}", e),\n    }\n}\n`,
    );
    expect(log).not.toMatch(/TOKEN VISIBLE/);
    expect(log).toMatch(/token not visible/);
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
  }, 90_000);
});

/** Builds go only to workers started with BUILD_WORKER: elsewhere they are refused, saying why, not queued for nobody. */
describe('builds without a build worker', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'no-build-worker'));
  }, 60_000);

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  it('lists the builders as unavailable with the reason, and answers a build with 503 BUILDER_UNAVAILABLE', async () => {
    const builders = (await (await service.fetch('/v1/builders')).json()) as { name: string; available: boolean; reason: string }[];
    expect(builders.map((b) => b.available)).toEqual([false, false]);
    expect(builders[0]!.reason).toMatch(/no build worker is running.*BUILD_WORKER/);
    const response = await service.fetch(`/v1/builds?${new URLSearchParams({ repository: `${env.stackEnv.LOCAL_REGISTRY}/e2e-builds/none`, builder: 'cargo' })}`, {
      method: 'POST',
      headers: { 'content-type': 'application/gzip' },
      body: await tarGzBytes(entries(rustCommand('x'))),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('30');
    expect(((await response.json()) as { code: string }).code).toBe('BUILDER_UNAVAILABLE');
  });
});
