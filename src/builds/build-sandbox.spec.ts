import { randomInt } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { probeSandbox, runInSandbox, SANDBOX_USER_ID, type SandboxLimits, type SandboxMount, type SandboxOutcome } from './build-sandbox';

// Real bwrap, real processes: what a build we did not write can and cannot do.

const MiB = 1024 * 1024;
const NODE_PREFIX = dirname(dirname(process.execPath));
const PROJECT_ROOT = resolve(__dirname, '..', '..');
const LIMITS: SandboxLimits = {
  wallTimeMs: 20_000,
  cpuSeconds: 20,
  memoryBytes: 512 * MiB,
  maxProcesses: 64,
  maxLogBytes: 64 * 1024,
  maxWorkDirBytes: 64 * MiB,
  maxFileBytes: 16 * MiB,
};

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'build-sandbox-spec-'));
  // When the tests run as root, the sandbox runs as uid 65534 on the host and must get through.
  await chmod(base, 0o711);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function workDir(): Promise<string> {
  return mkdtemp(join(base, 'work-'));
}

interface Run {
  outcome: SandboxOutcome;
  log: string;
  dir: string;
}

async function run(
  command: string[],
  options: { limits?: Partial<SandboxLimits>; env?: Record<string, string>; mounts?: SandboxMount[]; signal?: AbortSignal; dir?: string } = {},
): Promise<Run> {
  const dir = options.dir ?? (await workDir());
  const chunks: Buffer[] = [];
  const outcome = await runInSandbox({
    workDir: dir,
    command,
    env: options.env ?? { PATH: '/opt/node/bin:/usr/bin', HOME: '/tmp' },
    readOnlyMounts: options.mounts ?? [{ hostPath: NODE_PREFIX, sandboxPath: '/opt/node' }],
    limits: { ...LIMITS, ...options.limits },
    signal: options.signal,
    onLog: (chunk) => chunks.push(Buffer.from(chunk)),
  });
  return { outcome, log: Buffer.concat(chunks).toString('utf8'), dir };
}

/** Host processes whose command line holds `marker` (the sandbox's processes carry one in their arguments). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if ((await readFile(`/proc/${name}/cmdline`, 'utf8')).includes(marker)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

function marker(): string {
  return `sandbox-spec-${randomInt(1e9)}`;
}

describe('runInSandbox: what a build sees', () => {
  it('runs as an unprivileged user with no capabilities and exactly the environment it was given', async () => {
    const script = `const fs = require('fs');
      console.log(JSON.stringify({ env: process.env, uid: process.getuid(), gid: process.getgid(), caps: /CapEff:\\s*(\\w+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1] }));
      fs.writeFileSync('/build/made-by-build', 'x');`;
    const { outcome, log, dir } = await run(['/opt/node/bin/node', '-e', script], { env: { PATH: '/opt/node/bin:/usr/bin', HOME: '/tmp', GREETING: 'hello' } });

    expect(outcome.exitCode).toBe(0);
    const seen = JSON.parse(log);
    expect(seen.env).toEqual({ PATH: '/opt/node/bin:/usr/bin', HOME: '/tmp', GREETING: 'hello', PWD: '/build' });
    expect([seen.uid, seen.gid]).toEqual([SANDBOX_USER_ID, SANDBOX_USER_ID]);
    expect(seen.caps).toBe('0000000000000000');
    // Not root on the host either: what it writes belongs to the worker's own (non-root) user or to nobody.
    const owner = (await stat(join(dir, 'made-by-build'))).uid;
    expect(owner).toBe(process.getuid?.() === 0 ? SANDBOX_USER_ID : process.getuid?.());
  });

  it("sees none of the worker's files: not its token, configuration, project, other workspaces, /root, /home or /etc", async () => {
    const worker = await mkdtemp(join(base, 'worker-'));
    const tokenFile = join(worker, 'var', 'run', 'sigstore', 'cosign', 'oidc-token');
    await mkdir(dirname(tokenFile), { recursive: true });
    await writeFile(tokenFile, 'identity-token-that-must-not-leak');
    const otherJob = await workDir();
    await writeFile(join(otherJob, 'other-job-file'), 'another build');
    const probes = {
      token: tokenFile,
      usualToken: '/var/run/sigstore/cosign/oidc-token',
      otherJob: join(otherJob, 'other-job-file'),
      project: join(PROJECT_ROOT, 'package.json'),
      root: '/root',
      home: '/home',
      hostname: '/etc/hostname',
      shadow: '/etc/shadow',
    };
    const checks = Object.entries(probes)
      .map(([name, path]) => `test -e '${path}' && echo "VISIBLE ${name}"`)
      .join('; ');
    const { outcome, log } = await run([
      '/bin/sh',
      '-c',
      `${checks}; echo "ROOT $(ls / | tr '\\n' ' ')"; echo "ETC $(ls /etc | tr '\\n' ' ')"; echo "BUILD $(ls -A /build | tr '\\n' ' ')"; grep -rl identity-token-that-must-not-leak /build /tmp /etc /opt 2>/dev/null; true`,
    ]);

    expect(outcome.exitCode).toBe(0);
    expect(log).not.toContain('VISIBLE');
    expect(log).not.toContain('oidc-token');
    expect(log).toContain('ROOT bin build dev etc lib lib64 opt proc sbin tmp usr \n');
    expect(log).toContain('ETC alternatives group passwd \n');
    expect(log).toContain('BUILD \n');
  });

  it("shows in /proc only the sandbox's own processes", async () => {
    const { outcome, log } = await run(['/bin/sh', '-c', 'for p in /proc/[0-9]*; do echo "$(basename $p) $(tr "\\0" " " < $p/cmdline)"; done']);

    expect(outcome.exitCode).toBe(0);
    const processes = log.trim().split('\n');
    // bwrap's init (pid 1), the shell, and the shell's own child at most.
    expect(processes.length).toBeLessThanOrEqual(3);
    // bwrap took its options from a pipe: no host path shows in its command line.
    expect(processes[0]).toMatch(/^1 \S*bwrap --args 6 -- \/usr\/bin\/prlimit /);
    expect(log).not.toContain(base);
    expect(log).not.toContain('jest');
  });

  it('has no network: neither a server listening on the host loopback nor name resolution', async () => {
    let requests = 0;
    const server: Server = createServer((_req, res) => {
      requests += 1;
      res.end('reached');
    });
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const { port } = server.address() as AddressInfo;
    try {
      const script = `const attempt = (url) => fetch(url).then(() => 'REACHED ' + url, (e) => 'FAILED ' + url + ' ' + (e.cause && e.cause.code));
        Promise.all([attempt('http://127.0.0.1:${port}/'), attempt('http://example.com/')]).then((lines) => console.log(lines.join('\\n')));`;
      const { outcome, log } = await run(['/opt/node/bin/node', '-e', script]);

      expect(outcome.exitCode).toBe(0);
      expect(log).toContain(`FAILED http://127.0.0.1:${port}/`);
      expect(log).toContain('FAILED http://example.com/');
      expect(log).not.toContain('REACHED');
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });

  it('merges stdout and stderr in the order they were written', async () => {
    const { log } = await run(['/bin/sh', '-c', 'echo one; echo two >&2; echo three; echo four >&2']);
    expect(log).toBe('one\ntwo\nthree\nfour\n');
  });

  it('cannot write outside /build and the size-capped /tmp', async () => {
    const { outcome, log } = await run(
      [
        '/bin/sh',
        '-c',
        'for p in /usr/x /opt/node/x /etc/x /x /dev/x; do touch $p 2>/dev/null && echo "WROTE $p"; done; head -c 3000000 /dev/zero > /tmp/big || echo TMP-FULL; echo done',
      ],
      {
        limits: { maxTmpBytes: 1 * MiB },
      },
    );

    expect(outcome.exitCode).toBe(0);
    expect(log).not.toContain('WROTE');
    expect(log).toContain('TMP-FULL');
    expect(log).toContain('done');
  });
});

describe('runInSandbox: limits', () => {
  it('stops a build that loops forever at its wall time, and nothing of it survives', async () => {
    const tag = marker();
    const sleeper = String(randomInt(100_000, 999_999));
    const { outcome } = await run(['/bin/sh', '-c', `(sleep ${sleeper} &); while :; do :; done`, tag], { limits: { wallTimeMs: 1500 } });

    expect(outcome.limitExceeded?.limit).toBe('wall-time');
    expect(outcome.exitCode).toBeNull();
    expect(outcome.durationMs).toBeGreaterThanOrEqual(1500);
    expect(outcome.durationMs).toBeLessThan(5000);
    expect(await processesWith(tag)).toEqual([]);
    expect(await processesWith(`sleep\0${sleeper}`)).toEqual([]);
  });

  it('stops a build that uses up its CPU time', async () => {
    const { outcome } = await run(['/bin/sh', '-c', 'while :; do :; done'], { limits: { cpuSeconds: 1, wallTimeMs: 15_000 } });

    expect(outcome.limitExceeded?.limit).toBe('cpu');
    expect(outcome.durationMs).toBeLessThan(5000);
  });

  it('stops a build that takes more memory than it may', async () => {
    const tag = marker();
    const { outcome } = await run(['/opt/node/bin/node', '-e', 'const kept = []; for (;;) kept.push(Buffer.alloc(1 << 20, 1));', tag], { limits: { memoryBytes: 200 * MiB } });

    expect(outcome.limitExceeded?.limit).toBe('memory');
    expect(outcome.peakMemoryBytes).toBeGreaterThan(200 * MiB);
    expect(outcome.durationMs).toBeLessThan(10_000);
    expect(await processesWith(tag)).toEqual([]);
  });

  it('stops a fork bomb at the process limit (even when the worker runs as root) and leaves nothing behind', async () => {
    const tag = marker();
    const { outcome } = await run(['/bin/sh', '-c', 'f() { f | f & }; while :; do f; done', tag], { limits: { maxProcesses: 32, wallTimeMs: 15_000 } });

    // The shell gives up when fork fails (RLIMIT_NPROC), or the watchdog sees the limit reached first.
    expect(outcome.limitExceeded?.limit === 'processes' || (outcome.limitExceeded === null && outcome.exitCode !== 0)).toBe(true);
    expect(outcome.durationMs).toBeLessThan(10_000);
    expect(await processesWith(tag)).toEqual([]);
  });

  it('stops a build that keeps forking past failures at the process limit', async () => {
    const tag = marker();
    const script = `const { spawn } = require('child_process');
      setInterval(() => { for (let i = 0; i < 20; i++) { try { spawn('/usr/bin/sleep', ['60']).on('error', () => {}); } catch {} } }, 20);`;
    const { outcome } = await run(['/opt/node/bin/node', '-e', script, tag], { limits: { maxProcesses: 48, wallTimeMs: 15_000 } });

    expect(outcome.limitExceeded?.limit).toBe('processes');
    expect(await processesWith(tag)).toEqual([]);
  });

  it('stops a build at maxFileBytes for one file and at maxWorkDirBytes for the work directory', async () => {
    const oneFile = await run(['/bin/sh', '-c', 'exec head -c 67108864 /dev/zero > /build/huge'], { limits: { maxFileBytes: 8 * MiB } });
    expect(oneFile.outcome.limitExceeded?.limit).toBe('disk');
    expect((await stat(join(oneFile.dir, 'huge'))).size).toBeLessThanOrEqual(8 * MiB);

    const manyFiles = await run(['/bin/sh', '-c', 'i=0; while [ $i -lt 40 ]; do head -c 4000000 /dev/zero > /build/part$i; i=$((i+1)); done; sleep 10'], {
      limits: { maxFileBytes: 8 * MiB, maxWorkDirBytes: 32 * MiB },
    });
    expect(manyFiles.outcome.limitExceeded?.limit).toBe('disk');
    expect(manyFiles.outcome.durationMs).toBeLessThan(8000);
  });

  it('keeps the first maxLogBytes of a long log, counts the rest, and lets the build finish', async () => {
    const { outcome, log } = await run(['/bin/sh', '-c', 'head -c 5000000 /dev/zero | tr "\\0" x; echo; echo finished'], { limits: { maxLogBytes: 64 * 1024 } });

    expect(outcome.exitCode).toBe(0);
    expect(outcome.limitExceeded).toBeNull();
    expect(outcome.logTruncated).toBe(true);
    expect(outcome.logBytes).toBe(5_000_000 + '\nfinished\n'.length);
    expect(log.length).toBeLessThan(64 * 1024 + 200);
    expect(log.endsWith('\n[log truncated at 65536 bytes; further output is counted and dropped]\n')).toBe(true);
    expect(outcome.logTail.endsWith('xxx\nfinished\n')).toBe(true);
  });

  it('stops a build whose output passes the hard cap', async () => {
    const { outcome } = await run(['/usr/bin/yes', 'spam'], { limits: { maxLogBytes: 1024, logHardCapBytes: 4 * MiB } });

    expect(outcome.limitExceeded?.limit).toBe('log');
    expect(outcome.logBytes).toBeGreaterThan(4 * MiB);
  });

  it('stops the build when it is cancelled, and does not start one cancelled already', async () => {
    const tag = marker();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const { outcome } = await run(['/bin/sh', '-c', 'sleep 30', tag], { signal: controller.signal });
    expect(outcome.limitExceeded?.limit).toBe('aborted');
    expect(outcome.durationMs).toBeLessThan(3000);
    expect(await processesWith(tag)).toEqual([]);

    const before = await run(['/bin/sh', '-c', 'echo started'], { signal: AbortSignal.abort() });
    expect(before.outcome.limitExceeded?.limit).toBe('aborted');
    expect(before.log).toBe('');
  });
});

describe('runInSandbox: refusals', () => {
  it("reports bwrap's own message when the sandbox cannot be set up", async () => {
    await expect(run(['/bin/true'], { mounts: [{ hostPath: join(base, 'does-not-exist'), sandboxPath: '/opt/missing' }] })).rejects.toMatchObject({
      code: 'SANDBOX_UNAVAILABLE',
      message: expect.stringContaining("Can't find source path"),
    });
  });

  it('refuses mounts over the parts of the sandbox it sets up itself', async () => {
    for (const sandboxPath of ['/usr/local', '/build', '/etc/passwd', '/', 'relative', '/opt/../usr']) {
      await expect(run(['/bin/true'], { mounts: [{ hostPath: NODE_PREFIX, sandboxPath }] })).rejects.toMatchObject({ code: 'SANDBOX_RUN_INVALID' });
    }
  });
});

describe('probeSandbox', () => {
  it('runs a trivial sandboxed command and reports the bwrap version', async () => {
    expect(await probeSandbox()).toEqual({ available: true, version: expect.stringMatching(/^bubblewrap \d+\.\d+/) });
  });
});
