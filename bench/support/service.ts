/**
 * The service under test as a separate process (`node …/dist/src/main.js`), so that its CPU is its own
 * and not the load generator's. Optionally with `--cpu-prof`: the profile is written when it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort, sleep } from '../../test/support/service-process';

/** Last bytes of the service's output kept for error messages. */
const OUTPUT_TAIL_BYTES = 64 * 1024;
const STOP_TIMEOUT_MS = 60_000;

export interface ServiceStartOptions {
  /** The service's dist/src/main.js. */
  main: string;
  env: Record<string, string>;
  /** Directory for a V8 CPU profile of the whole run (node --cpu-prof); none when undefined. */
  cpuProfileDir?: string;
  startTimeoutMs?: number;
}

export class ServiceUnderTest {
  private output = '';
  private readonly exited: Promise<number | null>;
  private apiKey: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(options: ServiceStartOptions): Promise<ServiceUnderTest> {
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      ROLE: 'all',
      LOG_LEVEL: 'warn',
      INSTANCE_ID: `bench-${randomUUID().slice(0, 8)}`,
      ...options.env,
    };
    const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
    const child = spawn(process.execPath, [...nodeArgs, options.main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const service = new ServiceUnderTest(child, `http://127.0.0.1:${port}`);
    try {
      await service.waitUntilReady(options.startTimeoutMs ?? 60_000);
      if (env.BOOTSTRAP_ADMIN_API_KEY) service.apiKey = await service.createApiKey(env.BOOTSTRAP_ADMIN_API_KEY);
    } catch (error) {
      await service.stop();
      throw error;
    }
    return service;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The end of what the process wrote (its warnings and errors, at LOG_LEVEL=warn). */
  get logTail(): string {
    return this.output.trimEnd().split('\n').slice(-20).join('\n');
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /**
   * The Authorization header of the load generator: an API key made through the API (so every request
   * pays the real authentication: a key looked up by its hash, scopes, repository patterns).
   */
  get authorization(): Record<string, string> {
    return this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {};
  }

  private async createApiKey(adminKey: string): Promise<string> {
    const response = await fetch(this.url('/v1/api-keys'), {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', scopes: ['artifacts:write', 'signatures:write', 'builds:write', 'verifications:write', 'records:read'], repositories: ['**'] }),
    });
    if (response.status !== 201) throw new Error(`POST /v1/api-keys answered HTTP ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { key: string }).key;
  }

  /** Ready: Redis and the database answer (GET /health/ready). */
  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`the service exited with ${this.child.exitCode}:\n${this.logTail}`);
      try {
        const response = await fetch(this.url('/health/ready'), { signal: AbortSignal.timeout(2_000) });
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`the service was not ready within ${timeoutMs} ms:\n${this.logTail}`);
  }

  /** SIGKILL at once (a crash); resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (the service drains and exits 0), SIGKILL when it does not exit in time. Resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
