import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './service-process';

/**
 * A redis-server of a test's (or benchmark's) own, on a free port, in a temporary directory: faults can
 * be injected into it (stopped, killed, restarted, emptied) without disturbing anything else. By default
 * with AOF on, fsynced every second, as docker-compose.yml runs Redis; `persistence: 'none'` runs it in
 * memory only, so a restart loses every key.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly persistence: 'aof' | 'none',
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(options: { persistence?: 'aof' | 'none' } = {}): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), await mkdtemp(join(tmpdir(), 'wasm-signer-redis-')), options.persistence ?? 'aof');
    await redis.launch();
    return redis;
  }

  /** Stopped with `signal`, then started again on the same port and directory (and its AOF, if any). */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    await this.launch();
  }

  /** SIGTERM lets Redis fsync its AOF before exiting; SIGKILL loses what was not fsynced yet. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Stopped with `signal` and started again with nothing: as a Redis without persistence restarts. */
  async restartEmpty(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.stop(signal);
    for (const entry of await readdir(this.dir)) await rm(join(this.dir, entry), { recursive: true, force: true });
    await this.launch();
  }

  /** Started again after stop(), on the same port and directory. */
  async launch(): Promise<void> {
    const persistence = this.persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, ...persistence, '--save', ''], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if ((await this.cli('ping')) === 'PONG') return;
      if (this.child.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`the private redis-server on port ${this.port} did not start`);
  }

  /** One redis-cli command against it; its output, trimmed. */
  cli(...args: string[]): Promise<string> {
    return new Promise((resolve) => {
      const probe = spawn('redis-cli', ['-p', String(this.port), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      probe.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      probe.once('error', () => resolve(''));
      probe.once('exit', () => resolve(out.trim()));
    });
  }

  /** Stops it and removes its directory. */
  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}
