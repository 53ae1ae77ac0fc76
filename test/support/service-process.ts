import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT, TEST_ADMIN_KEY } from './test-environment';

const MAIN = resolve(REPO_ROOT, 'dist/src/main.js');

/** A wasm-signer process started from the build, as an operator would run it. */
export class ServiceProcess {
  private output = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly env: Record<string, string>,
    private readonly wrapped = false,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts the service with `env` (on top of a minimal environment) and waits until /health/live answers. */
  /**
   * `wrapper`: a command line the service is run under (`bwrap … --`, say); it must run the service as
   * its direct child and exit when it does. Signals (stop) then go to the service itself.
   */
  static async start(env: Record<string, string>, options: { waitForLive?: boolean; wrapper?: string[] } = {}): Promise<ServiceProcess> {
    const port = env.PORT ?? String(await freePort());
    const fullEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: port,
      LOG_LEVEL: 'info',
      INSTANCE_ID: `${env.ROLE ?? 'all'}-${randomUUID().slice(0, 8)}`,
      // Every service under test has the test admin key, which fetch() sends (unless env sets another).
      BOOTSTRAP_ADMIN_API_KEY: TEST_ADMIN_KEY,
      ...env,
    };
    const [command, ...args] = [...(options.wrapper ?? []), process.execPath, MAIN];
    const child = spawn(command!, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const service = new ServiceProcess(child, `http://127.0.0.1:${port}`, fullEnv, options.wrapper !== undefined);
    if (options.waitForLive !== false) await service.waitUntilLive();
    return service;
  }

  get instanceId(): string {
    return this.env.INSTANCE_ID!;
  }

  get logs(): string {
    return this.output;
  }

  async waitUntilLive(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`service exited with ${this.child.exitCode}:\n${this.output}`);
      try {
        const response = await fetch(`${this.baseUrl}/health/live`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`service did not become live within ${timeoutMs} ms:\n${this.output}`);
  }

  /**
   * A request to the service. /v1 calls without an Authorization header of their own carry the
   * service's bootstrap admin key (when it has one); pass `authorization: ''` to send none.
   */
  fetch(path: string, init?: RequestInit): Promise<Response> {
    const headers = new Headers(init?.headers);
    const adminKey = this.env.BOOTSTRAP_ADMIN_API_KEY;
    if (path.startsWith('/v1/') && adminKey && !headers.has('authorization')) headers.set('authorization', `Bearer ${adminKey}`);
    if (headers.get('authorization') === '') headers.delete('authorization');
    return fetch(`${this.baseUrl}${path}`, { ...init, headers });
  }

  /** The service's own process id: the child's, or under a wrapper, the wrapper's child's. */
  get pid(): number {
    const own = this.child.pid!;
    if (!this.wrapped) return own;
    try {
      const children = readFileSync(`/proc/${own}/task/${own}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      return children.length > 0 ? Number(children[0]) : own;
    } catch {
      return own;
    }
  }

  /** Sends a signal (to the service, also under a wrapper) and resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const pid = this.pid;
      if (pid === this.child.pid) this.child.kill(signal);
      else process.kill(pid, signal);
    }
    return this.exited;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `wasm-signer-${prefix}-`));
