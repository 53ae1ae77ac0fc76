import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInSandbox } from './build-sandbox';
import { createWorkspace, sweepStaleWorkspaces } from './build-workspace';

const PROJECT_ROOT = resolve(__dirname, '..', '..');
/** Tests of what differs when the worker runs as root (run as another user, the other tests cover that case). */
const asRoot = process.getuid?.() === 0 ? it : it.skip;
const WORKSPACE_MODULE = join(__dirname, 'build-workspace.ts');

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'build-workspace-spec-'));
  await chmod(base, 0o711);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A tree nobody may write to: read-only files in read-only directories, and a directory no one may even list. */
async function makeReadOnlyTree(root: string): Promise<void> {
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  await writeFile(join(root, 'a', 'b', 'file'), 'x');
  await mkdir(join(root, 'locked'));
  await writeFile(join(root, 'locked', 'hidden'), 'y');
  await chmod(join(root, 'a', 'b', 'file'), 0o400);
  await chmod(join(root, 'a', 'b'), 0o500);
  await chmod(join(root, 'a'), 0o500);
  await chmod(join(root, 'locked'), 0o000);
}

describe('createWorkspace', () => {
  it('makes a private directory per job holding the source and output directories and an owner marker', async () => {
    const workspace = await createWorkspace(join(base, 'builds'), 'job-1');

    expect(workspace.path).toMatch(new RegExp(`^${join(base, 'builds')}/job-1-[0-9a-f]{16}$`));
    expect((await stat(workspace.path)).mode & 0o777).toBe(0o700);
    expect((await stat(workspace.sourceDir)).mode & 0o777).toBe(0o700);
    expect((await stat(workspace.outputDir)).mode & 0o777).toBe(0o700);
    expect(await readdir(workspace.path)).toEqual(expect.arrayContaining(['owner.json', 'source', 'output']));
    expect(JSON.parse(await readFile(join(workspace.path, 'owner.json'), 'utf8'))).toMatchObject({ pid: process.pid, startTime: expect.any(Number), bootId: expect.any(String) });
    const again = await createWorkspace(join(base, 'builds'), 'job-1');
    expect(again.path).not.toBe(workspace.path);
    await Promise.all([workspace.dispose(), again.dispose()]);
  });

  it('refuses a job id that is not a plain name', async () => {
    for (const jobId of ['../escape', 'a/b', '', '.hidden', 'x'.repeat(200)]) {
      await expect(createWorkspace(base, jobId)).rejects.toMatchObject({ code: 'WORKSPACE_INVALID' });
    }
  });

  asRoot('refuses, when running as root, a base directory the sandbox user cannot reach', async () => {
    const closed = await mkdtemp(join(base, 'closed-'));
    await chmod(closed, 0o700);
    await expect(createWorkspace(join(closed, 'builds'), 'job')).rejects.toMatchObject({ code: 'WORKSPACE_UNREACHABLE', message: expect.stringContaining(closed) });
  });
});

describe('BuildWorkspace.dispose', () => {
  it('removes everything, read-only files and directories included, and may be called twice', async () => {
    const workspace = await createWorkspace(base, 'read-only');
    await makeReadOnlyTree(workspace.sourceDir);
    // And what a build made read-only inside the sandbox.
    const outcome = await runInSandbox({
      workDir: workspace.sourceDir,
      command: ['/bin/sh', '-c', 'mkdir -p built/deep && echo z > built/deep/f && chmod 400 built/deep/f && chmod 500 built/deep built && mkdir sealed && chmod 000 sealed'],
      env: { PATH: '/usr/bin' },
      readOnlyMounts: [],
      limits: { wallTimeMs: 10_000, cpuSeconds: 10, memoryBytes: 256 * 1024 * 1024, maxProcesses: 32, maxLogBytes: 4096, maxWorkDirBytes: 1 << 24, maxFileBytes: 1 << 20 },
    });
    expect(outcome.exitCode).toBe(0);

    await workspace.dispose();
    expect(await exists(workspace.path)).toBe(false);
    await workspace.dispose();
  });

  asRoot('removes read-only trees when the worker is not root', async () => {
    // Root removes anything: run the same as an unprivileged user.
    const userBase = await mkdtemp(join(base, 'unprivileged-'));
    await chown(userBase, 65534, 65534);
    const script = join(userBase, 'dispose.ts');
    await writeFile(
      script,
      `import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
       import { join } from 'node:path';
       import { createWorkspace } from ${JSON.stringify(WORKSPACE_MODULE)};
       (async () => {
         const workspace = await createWorkspace(${JSON.stringify(join(userBase, 'builds'))}, 'job');
         await mkdir(join(workspace.sourceDir, 'a', 'b'), { recursive: true });
         await writeFile(join(workspace.sourceDir, 'a', 'b', 'file'), 'x');
         await chmod(join(workspace.sourceDir, 'a', 'b', 'file'), 0o400);
         await chmod(join(workspace.sourceDir, 'a', 'b'), 0o500);
         await mkdir(join(workspace.sourceDir, 'locked'));
         await chmod(join(workspace.sourceDir, 'locked'), 0o000);
         await workspace.dispose();
         console.log(JSON.stringify({ uid: process.getuid(), removed: await stat(workspace.path).then(() => false, () => true) }));
       })();`,
    );
    await chmod(script, 0o644);
    const output = await new Promise<string>((done, fail) => {
      const child = spawn(process.execPath, [join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), script], {
        cwd: PROJECT_ROOT,
        uid: 65534,
        gid: 65534,
        env: { PATH: process.env.PATH ?? '/usr/bin', TMPDIR: userBase },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('error', fail);
      child.on('close', () => done(out));
    });
    expect(output).toContain('{"uid":65534,"removed":true}');
  });
});

describe('sweepStaleWorkspaces', () => {
  it('removes the workspaces of processes that are gone, keeps those of live ones and leaves other directories alone', async () => {
    const sweepBase = await mkdtemp(join(base, 'sweep-'));
    await chmod(sweepBase, 0o711);
    const live = await createWorkspace(sweepBase, 'live');
    const markerOf = async (path: string) => JSON.parse(await readFile(join(path, 'owner.json'), 'utf8'));
    const ours = await markerOf(live.path);

    // A worker that exited: its pid no longer names a running process.
    const exited = await new Promise<number>((done) => {
      const child = spawn('/bin/true');
      child.on('close', () => done(child.pid ?? 0));
    });
    const crashed = await createWorkspace(sweepBase, 'crashed');
    await writeFile(join(crashed.path, 'owner.json'), JSON.stringify({ ...ours, pid: exited }));
    // Our pid, but another process's start time: the pid was reused after a crash.
    const reused = await createWorkspace(sweepBase, 'reused');
    await writeFile(join(reused.path, 'owner.json'), JSON.stringify({ ...ours, startTime: ours.startTime - 1 }));
    // Made before the machine last booted.
    const rebooted = await createWorkspace(sweepBase, 'rebooted');
    await writeFile(join(rebooted.path, 'owner.json'), JSON.stringify({ ...ours, bootId: 'another-boot' }));
    // No owner marker: being made right now, or an old leftover.
    const fresh = join(sweepBase, `fresh-${'0'.repeat(16)}`);
    await mkdir(fresh);
    const old = join(sweepBase, `old-${'1'.repeat(16)}`);
    await mkdir(old);
    await utimes(old, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    await makeReadOnlyTree(crashed.sourceDir);
    const unrelated = join(sweepBase, 'not-a-workspace');
    await mkdir(unrelated);

    const removed = await sweepStaleWorkspaces(sweepBase);

    expect(removed.sort()).toEqual([crashed.path, reused.path, rebooted.path, old].sort());
    expect(await exists(live.path)).toBe(true);
    expect(await exists(fresh)).toBe(true);
    expect(await exists(unrelated)).toBe(true);
    expect(await sweepStaleWorkspaces(join(base, 'does-not-exist'))).toEqual([]);
    await live.dispose();
  });
});
