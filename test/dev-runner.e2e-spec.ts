import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { eventually, freePort, tempDir } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment } from './support/test-environment';
import { WebhookReceiver } from './support/webhook-receiver';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

interface JobView {
  id: string;
  state: string;
  steps: { name: string; state: string; attempts: number; error: { code: string } | null }[];
}

/** `npm run dev` as a terminal runs it: its own process group, so Ctrl-C is a SIGINT to the whole group. */
class DevRunner {
  readonly output: string[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static start(env: Record<string, string>): DevRunner {
    return new DevRunner(spawn(process.execPath, [join(REPO_ROOT, 'scripts/dev.mjs')], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** What a terminal does on Ctrl-C. */
  interrupt(): void {
    process.kill(-this.child.pid!, 'SIGINT');
  }

  async exit(timeoutMs = 60_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const code = await Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
    if (code === 'timeout') {
      process.kill(-this.child.pid!, 'SIGKILL');
      throw new Error(`npm run dev did not stop within ${timeoutMs} ms:\n${this.output.slice(-30).join('\n')}`);
    }
    return code;
  }

  lineIndex(pattern: RegExp): number {
    return this.output.findIndex((line) => pattern.test(line));
  }
}

/**
 * `npm run dev` with a private stack, registry, queue prefix, data directory and database. Ctrl-C while
 * jobs run stops the service first, whose workers finish or release their steps while the stack still
 * answers; then the stack. No step fails on its way down, and the next `npm run dev` finishes every job.
 * The key that seals subscription secrets is made by the first run and kept for the next, never printed.
 */
describe('npm run dev', () => {
  const environment = testEnvironment();
  let database: TestDatabase;
  let env: Record<string, string>;
  let runner: DevRunner | undefined;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    database = await TestDatabase.create(environment.postgresServerUrl);
    receiver = await WebhookReceiver.start();
    const ports = {
      api: await freePort(),
      oidc: await freePort(),
      fulcio: await freePort(),
      rekor: await freePort(),
      tsa: await freePort(),
      registry: await freePort(),
      inbox: await freePort(),
    };
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(ports.api),
      STACK_DIR: tempDir('dev-stack'),
      STACK_OIDC_PORT: String(ports.oidc),
      STACK_FULCIO_PORT: String(ports.fulcio),
      STACK_REKOR_PORT: String(ports.rekor),
      STACK_TSA_PORT: String(ports.tsa),
      STACK_REGISTRY_PORT: String(ports.registry),
      DEV_WEBHOOK_INBOX_PORT: String(ports.inbox),
      REDIS_URL: environment.redisUrl,
      QUEUE_PREFIX: `test-dev-${randomUUID().slice(0, 8)}`,
      DATABASE_URL: database.url,
      DATA_DIR: tempDir('dev-data'),
      SHUTDOWN_TIMEOUT_MS: '20000',
    };
  });

  afterAll(async () => {
    if (runner) {
      runner.interrupt();
      await runner.exit().catch(() => undefined);
    }
    await receiver?.stop();
    await database?.drop();
  });

  // The development admin key, as npm run dev prints it.
  let adminKey: string | undefined;
  const api = (path: string, init?: RequestInit) =>
    fetch(`http://127.0.0.1:${env.PORT}${path}`, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${adminKey}` } });
  const whenReady = () => eventually(async () => ((await api('/health/ready').catch(() => undefined))?.ok ? true : undefined), 90_000, 'npm run dev to be ready');

  it('admits the README’s trusted-publisher token: the local issuer’s token publishes into demo/hello-http, and nowhere else', async () => {
    // The mint request exactly as the README prints it, on this run's ports.
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### CI and workload tokens (trusted publishers)'));
    const mintBody = /curl -s -X POST localhost:5550\/mint [^\n]*\\\n\s*-d '([^']+)'/.exec(section)?.[1];
    expect(mintBody).toBeDefined();
    const registry = `127.0.0.1:${env.STACK_REGISTRY_PORT}`;

    // A data directory of its own: the next test sees the first start of a fresh one.
    runner = DevRunner.start({ ...env, DATA_DIR: tempDir('dev-publisher-data') });
    await whenReady();
    const minted = await fetch(`http://127.0.0.1:${env.STACK_OIDC_PORT}/mint`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: mintBody });
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };
    // With the token only, never the development admin key.
    const asPublisher = (path: string, init: RequestInit = {}) =>
      fetch(`http://127.0.0.1:${env.PORT}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });
    const upload = { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component };

    const accepted = await asPublisher(`/v1/artifacts?repository=${registry}/demo/hello-http&tag=v1.1.0`, upload);
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as JobView;
    const job = await eventually(
      async () => {
        const view = (await (await asPublisher(`/v1/jobs/${id}`)).json()) as JobView;
        return view.state === 'succeeded' || view.state === 'failed' ? view : undefined;
      },
      60_000,
      `job ${id} to finish`,
    );
    expect(job.state).toBe('succeeded');
    const elsewhere = await asPublisher(`/v1/artifacts?repository=${registry}/other/app`, upload);
    expect(elsewhere.status).toBe(403);

    runner.interrupt();
    expect(await runner.exit()).toBe(0);
    runner = undefined;
  }, 180_000);

  it('stops the service before the stack on Ctrl-C, so no step fails on its way down', async () => {
    runner = DevRunner.start(env);
    await whenReady();
    adminKey = runner.output.map((line) => /\[dev\] admin key {2}(\S+)/.exec(line)?.[1]).find(Boolean);
    expect(adminKey).toMatch(/^wsk_dev_[A-Za-z0-9_-]{43}$/);
    const registry = `127.0.0.1:${env.STACK_REGISTRY_PORT}`;
    expect(runner.lineIndex(/\[dev\] webhook secrets are stored encrypted with the key in .*secret-encryption-keys \(made now\)/)).toBeGreaterThanOrEqual(0);
    const subscribed = await api('/v1/webhooks', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url('/dev'), events: ['job.succeeded'] }),
    });
    expect(subscribed.status).toBe(201);
    const { secret } = (await subscribed.json()) as { secret: string };

    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await api(`/v1/artifacts?repository=${registry}/dev/app-${i}&tag=v1`, { method: 'POST', headers: { 'content-type': 'application/wasm' }, body: component });
      expect(response.status).toBe(202);
      ids.push(((await response.json()) as JobView).id);
    }
    // Ctrl-C as soon as a signing step is under way.
    await eventually(
      async () => {
        const jobs = await Promise.all(ids.map(async (id) => (await (await api(`/v1/jobs/${id}`)).json()) as JobView));
        return jobs.some((job) => job.steps.some((step) => step.name === 'sign' && step.state === 'running')) ? true : undefined;
      },
      30_000,
      'a sign step to run',
    );
    runner.interrupt();
    expect(await runner.exit()).toBe(0);

    // The service said it stopped before the runner stopped the stack.
    const serviceStopped = runner.lineIndex(/"msg":"stopped"/);
    const stackStopping = runner.lineIndex(/\[dev\] service stopped .*stopping the webhook inbox, the local stack/);
    expect(serviceStopped).toBeGreaterThanOrEqual(0);
    expect(stackStopping).toBeGreaterThan(serviceStopped);

    // No step attempt failed: every step is pending, running (released to the next worker) or done.
    const rows = await database.query<{ id: string; state: string; steps: JobView['steps'] }>('select id, state, steps from jobs where id = any($1)', [ids]);
    expect(rows).toHaveLength(ids.length);
    for (const row of rows) {
      expect(row.state).not.toBe('failed');
      expect(row.steps.filter((step) => step.error !== null)).toEqual([]);
    }

    const firstOutput = runner.output.join('\n');

    // The next run picks the jobs up and finishes them.
    runner = DevRunner.start(env);
    await whenReady();
    for (const id of ids) {
      const job = await eventually(
        async () => {
          const view = (await (await api(`/v1/jobs/${id}`)).json()) as JobView;
          return view.state === 'succeeded' || view.state === 'failed' ? view : undefined;
        },
        60_000,
        `job ${id} to finish`,
      );
      expect(job.state).toBe('succeeded');
    }
    // The second run kept the first one's key: the jobs' webhooks are signed with the secret it returned.
    expect(runner.lineIndex(/\[dev\] webhook secrets are stored encrypted with the key in .*secret-encryption-keys \(kept from an earlier run\)/)).toBeGreaterThanOrEqual(0);
    const delivered = await eventually(async () => (receiver.on('/dev').length >= ids.length ? receiver.on('/dev') : undefined), 30_000, 'the jobs’ webhooks');
    const jobIds = delivered.map((request) => (new Webhook(secret).verify(request.body, request.headers) as { data: { job: { id: string } } }).data.job.id);
    expect(new Set(jobIds)).toEqual(new Set(ids));
    const key = readFileSync(join(env.DATA_DIR!, 'secret-encryption-keys'), 'utf8').trim().split(':')[1]!;
    expect(firstOutput).not.toContain(key);
    expect(runner.output.join('\n')).not.toContain(key);
    runner.interrupt();
    expect(await runner.exit()).toBe(0);
    runner = undefined;
  }, 240_000);
});
