/**
 * builds: builds per minute of the example sources (examples/builds/: a JavaScript component through
 * componentize-js, a Rust command through cargo) through the API — upload, queue, unpack, the bubblewrap
 * sandbox, the toolchain, the component pushed — against the same build run directly in a shell, in the
 * same run; and the sandbox's own start-up cost (`true` in the sandbox against `true` outside).
 *
 * Target: the service adds at most 10% to a build's wall time (POST → build step finished, against the
 * shell's build). The whole job (push, sign, attest, verify after it) is printed beside it.
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type SandboxLimits, runInSandbox } from '../src';
import type { Benchmark, BenchContext } from './support/benchmark';
import { REPO_ROOT } from './support/environment';
import { between, waitForJob } from './support/jobs';
import { heading, note, printTable, verdict } from './support/report';
import { ServiceUnderTest } from './support/service';
import { serviceEnvironment, serviceStorage } from './support/service-storage';
import { integerSetting } from './support/settings';
import { fixed, percentile } from './support/stats';

const TARGET_OVERHEAD = 1.1;
const RUST_TOOLCHAIN = '/usr';
const JCO = join(REPO_ROOT, 'node_modules/@bytecodealliance/jco/dist/jco.js');

interface Settings {
  runs: number;
  sandboxRuns: number;
}

type BuilderName = 'componentize-js' | 'cargo';
const EXAMPLES: Record<BuilderName, string> = { 'componentize-js': 'examples/builds/hello-js', cargo: 'examples/builds/hello-rust' };

export const builds: Benchmark = {
  name: 'builds',
  summary: 'builds per minute of the JS and Rust examples through the API vs. the same build in a shell; sandbox start-up cost',
  configure() {
    const settings: Settings = {
      runs: integerSetting('BENCH_BUILD_RUNS', 3, 1, 100),
      sandboxRuns: integerSetting('BENCH_SANDBOX_RUNS', 20, 1, 10_000),
    };
    return (context) => run(context, settings);
  },
};

async function run(context: BenchContext, settings: Settings): Promise<void> {
  const { environment: env, cleanup, log } = context;
  const scratch = mkdtempSync(join(tmpdir(), 'wasm-signer-bench-builds-'));
  chmodSync(scratch, 0o711); // the sandbox's user reaches its work directories below (when run as root)
  cleanup.defer(`remove ${scratch}`, async () => rmSync(scratch, { recursive: true, force: true }));

  // The sandbox's own cost: `true` inside it, against `true` spawned directly.
  log('sandbox start-up');
  const limits: SandboxLimits = {
    wallTimeMs: 30_000,
    cpuSeconds: 30,
    memoryBytes: 512 * 1024 * 1024,
    maxProcesses: 64,
    maxLogBytes: 65_536,
    maxWorkDirBytes: 64 * 1024 * 1024,
    maxFileBytes: 64 * 1024 * 1024,
  };
  const direct: number[] = [];
  const sandboxed: number[] = [];
  for (let i = 0; i < settings.sandboxRuns; i++) {
    direct.push(await timed(() => shell('/usr/bin/true', [], scratch)));
    const workDir = mkdtempSync(join(scratch, 'sandbox-'));
    chmodSync(workDir, 0o777);
    sandboxed.push(await timed(async () => void (await runInSandbox({ workDir, command: ['/usr/bin/true'], env: { PATH: '/usr/bin' }, readOnlyMounts: [], limits }))));
  }

  // The same builds in a shell: the toolchains called directly, no service, no sandbox.
  const shellTimes: Record<BuilderName, number[]> = { 'componentize-js': [], cargo: [] };
  for (const builder of Object.keys(EXAMPLES) as BuilderName[]) {
    for (let i = 0; i < settings.runs; i++) {
      log(`${builder}: shell build ${i + 1}/${settings.runs}`);
      const dir = join(scratch, `shell-${builder}-${i}`);
      cpSync(join(REPO_ROOT, EXAMPLES[builder]), dir, { recursive: true });
      shellTimes[builder].push(await timed(() => shellBuild(builder, dir)));
    }
  }

  // Through the API: a build worker in the service's own process (BUILD_WORKER=also), one build at a time.
  const storage = await serviceStorage(cleanup, env, 'builds');
  const workDir = join(scratch, 'work');
  mkdirSync(workDir, { mode: 0o711 });
  const service = await ServiceUnderTest.start({
    main: join(REPO_ROOT, 'dist/src/main.js'),
    env: serviceEnvironment(env, storage, `bench-builds-${process.pid}`, { BUILD_WORKER: 'also', BUILD_WORK_DIR: workDir, RATE_LIMIT_BUILDS_PER_MINUTE: '0' }),
  });
  cleanup.defer('stop the service', async () => void (await service.stop()));
  const apiBuild: Record<BuilderName, number[]> = { 'componentize-js': [], cargo: [] };
  const apiJob: Record<BuilderName, number[]> = { 'componentize-js': [], cargo: [] };
  /** Where the API's time goes: answering the POST, waiting for a build worker, the build step itself. */
  const phases: Record<BuilderName, { accepted: number[]; waiting: number[]; step: number[] }> = {
    'componentize-js': { accepted: [], waiting: [], step: [] },
    cargo: { accepted: [], waiting: [], step: [] },
  };
  for (const builder of Object.keys(EXAMPLES) as BuilderName[]) {
    const archive = await tarGz(join(REPO_ROOT, EXAMPLES[builder]), scratch);
    for (let i = 0; i < settings.runs; i++) {
      log(`${builder}: API build ${i + 1}/${settings.runs}`);
      const started = Date.now();
      const query = new URLSearchParams({ repository: `${env.registryHost}/bench/builds-${builder}`, builder });
      const response = await fetch(service.url(`/v1/builds?${query}`), {
        method: 'POST',
        headers: { ...service.authorization, 'content-type': 'application/gzip' },
        body: archive,
      });
      if (response.status !== 202) throw new Error(`POST /v1/builds answered ${response.status}: ${await response.text()}`);
      const { id } = (await response.json()) as { id: string };
      const acceptedAt = Date.now();
      const { job } = await waitForJob(service, id, { mode: 'poll', pollMs: 100, timeoutMs: 600_000 });
      if (job.state !== 'succeeded') throw new Error(`build job ${id} failed: ${JSON.stringify(job.error)}\n${service.logTail}`);
      const buildStep = job.steps.find((s) => s.name === 'build')!;
      apiBuild[builder].push(between(new Date(started).toISOString(), buildStep.finishedAt));
      apiJob[builder].push(between(new Date(started).toISOString(), job.finishedAt));
      phases[builder].accepted.push(acceptedAt - started);
      phases[builder].waiting.push(between(new Date(acceptedAt).toISOString(), buildStep.startedAt));
      phases[builder].step.push(between(buildStep.startedAt, buildStep.finishedAt));
    }
  }

  heading('builds: sandbox start-up');
  const median = (values: number[]) => percentile(values, 50);
  printTable(
    ['', 'median ms', 'p90 ms'],
    [
      ['true, spawned directly', fixed(median(direct), 1), fixed(percentile(direct, 90), 1)],
      ['true, in the sandbox', fixed(median(sandboxed), 1), fixed(percentile(sandboxed, 90), 1)],
    ],
  );
  note(`the sandbox adds ${fixed(median(sandboxed) - median(direct), 1)} ms per build (bubblewrap, namespaces, limits, watchdog)`);

  heading('builds: API against a shell, per build (median of runs)');
  const rows = (Object.keys(EXAMPLES) as BuilderName[]).map((builder) => {
    const shellMs = median(shellTimes[builder]);
    const buildMs = median(apiBuild[builder]);
    return { builder, shellMs, buildMs, jobMs: median(apiJob[builder]), ratio: buildMs / shellMs };
  });
  printTable(
    ['builder', 'shell s', 'API build s', 'API whole job s', 'builds/min shell', 'builds/min API', 'API/shell'],
    rows.map((r) => [
      r.builder,
      fixed(r.shellMs / 1000, 2),
      fixed(r.buildMs / 1000, 2),
      fixed(r.jobMs / 1000, 2),
      fixed(60_000 / r.shellMs, 1),
      fixed(60_000 / r.buildMs, 1),
      fixed(r.ratio, 2),
    ]),
  );
  printTable(
    ['builder', 'POST answered ms', 'then build step started ms', 'build step s'],
    rows.map((r) => [r.builder, fixed(median(phases[r.builder].accepted), 0), fixed(median(phases[r.builder].waiting), 0), fixed(median(phases[r.builder].step) / 1000, 2)]),
  );
  note(
    'API build: POST of the archive until the build step ended (upload, queue, unpack, sandbox, toolchain, the component pushed); the whole job adds push, sign, attest and verify',
  );
  for (const r of rows) {
    verdict(
      `${r.builder}: the service adds at most 10% to a build`,
      r.ratio <= TARGET_OVERHEAD,
      `${fixed((r.ratio - 1) * 100, 0)}% (${fixed(r.buildMs - r.shellMs, 0)} ms over ${fixed(r.shellMs, 0)} ms)`,
    );
  }
}

/** The example built as the builder builds it, but directly: cargo (then jco's preview1 adapter), or componentize-js. */
async function shellBuild(builder: BuilderName, dir: string): Promise<void> {
  if (builder === 'cargo') {
    const env = { RUSTC: `${RUST_TOOLCHAIN}/bin/rustc`, CARGO_HOME: join(dir, '.cargo-home') };
    await shell(`${RUST_TOOLCHAIN}/bin/cargo`, ['build', '--release', '--offline', '--target', 'wasm32-wasi'], dir, env);
    await shell(process.execPath, [JCO, 'new', join(dir, 'target/wasm32-wasi/release/hello-rust.wasm'), '--wasi-command', '-o', join(dir, 'component.wasm')], dir);
    return;
  }
  // In the checkout, so that the packages resolve from its node_modules; the source stays in `dir`.
  mkdirSync(join(REPO_ROOT, '.local', 'tmp'), { recursive: true });
  const script = join(mkdtempSync(join(REPO_ROOT, '.local', 'tmp', 'bench-componentize-')), 'componentize.mjs');
  writeFileSync(
    script,
    `import { writeFile } from 'node:fs/promises';
// As the builder's driver does: componentize-js reads the WIT through preview2-shim's filesystem.
const shim = await import('@bytecodealliance/preview2-shim/filesystem');
shim._setPreopens?.({ '/': '/' });
const { componentize } = await import('@bytecodealliance/componentize-js');
const { component } = await componentize({ sourcePath: ${JSON.stringify(join(dir, 'index.js'))}, witPath: ${JSON.stringify(join(dir, 'wit'))}, worldName: 'hello', env: { HOME: ${JSON.stringify(dir)} } });
await writeFile('component.wasm', component);\n`,
  );
  await shell(process.execPath, [script], dir);
}

async function tarGz(dir: string, scratch: string): Promise<Buffer> {
  const out = join(mkdtempSync(join(scratch, 'archive-')), 'source.tar');
  await shell('tar', ['-cf', out, '-C', dir, '.'], dirname(out));
  return gzipSync(readFileSync(out));
}

function shell(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
