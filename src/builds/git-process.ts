import { spawn } from 'node:child_process';

export interface GitRun {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  stdout: string;
  /** The end of what git wrote on stderr (the last STDERR_KEPT_BYTES). */
  stderr: string;
}

/** Enough of stderr for the error message: git writes the reason of a failure last. */
const STDERR_KEPT_BYTES = 16 * 1024;
/** Output a caller keeps (rev-parse, cat-file): a few lines; more is not what was asked for. */
const STDOUT_KEPT_BYTES = 64 * 1024;

/**
 * Runs the system `git` with `args` in its own process group, so that aborting `signal` kills it and
 * every helper it started (git-remote-https, index-pack, …) with SIGKILL. Resolves with the exit code and
 * output, or rejects with the signal's reason when aborted. `onStdout` receives standard output as it
 * comes (for output too large to keep); otherwise up to 64 KiB of it is kept.
 */
export function runGit(args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; signal: AbortSignal; onStdout?: (chunk: Buffer) => void }): Promise<GitRun> {
  const { signal } = options;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    signal.addEventListener('abort', killGroup, { once: true });
    let stdout = Buffer.alloc(0);
    let stderr = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => {
      if (options.onStdout) options.onStdout(chunk);
      else if (stdout.length < STDOUT_KEPT_BYTES) stdout = Buffer.concat([stdout, chunk]).subarray(0, STDOUT_KEPT_BYTES);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_KEPT_BYTES) stderr = stderr.subarray(stderr.length - STDERR_KEPT_BYTES);
    });
    const done = () => signal.removeEventListener('abort', killGroup);
    child.once('error', (error) => {
      done();
      reject(error);
    });
    child.once('close', (code) => {
      done();
      if (signal.aborted) reject(signal.reason as Error);
      else resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8') });
    });
  });
}
