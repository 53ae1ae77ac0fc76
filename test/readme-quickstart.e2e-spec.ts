import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWebhookInbox, type WebhookInbox } from '../dev/webhook-inbox';
import { EXAMPLES } from '../src/openapi/examples';
import { hasTool } from './support/required-tool';
import { eventually, freePort, ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

/** One command of the README's "Try it" block, with the answer the comment after it documents (if any). */
interface Example {
  command: string;
  /** The status the next comment names (`# 202 {…}`, `# 422 {…}`, `"status":422`); else any 2xx. */
  status?: number;
  /** The next comment shows `{"verified":true…}`: the answer must say so. */
  verified?: boolean;
}

/**
 * The commands of the README's "Try it" section (its shell code blocks, up to the next heading), as
 * printed: a command is a line that is not a comment, with the lines it continues onto (a trailing `\` or
 * `|`, or a quoted string still open).
 */
function tryItExamples(readme: string): Example[] {
  const section = /^## Try it\n([\s\S]*?)(?=^#{2,3} )/m.exec(readme)?.[1];
  if (!section) throw new Error('README.md has no "## Try it" section');
  const blocks = [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const examples: Example[] = [];
  for (const block of blocks) {
    let current: string[] = [];
    // The example whose answer the next comment line shows: only the line right after a command.
    let documented: Example | undefined;
    for (const line of block.split('\n')) {
      if (current.length === 0 && (line.startsWith('#') || line.trim() === '')) {
        if (documented && line.startsWith('#')) {
          const status = /^# (\d{3}) /.exec(line)?.[1] ?? /"status":(\d{3})/.exec(line)?.[1];
          if (status) documented.status = Number(status);
          if (line.startsWith('# {"verified":true')) documented.verified = true;
        }
        documented = undefined;
        continue;
      }
      current.push(line);
      const text = current.join('\n');
      if (!quoteOpenAfter(text) && !/[\\|]\s*$/.test(line)) {
        documented = { command: text };
        examples.push(documented);
        current = [];
      }
    }
  }
  return examples;
}

/** Whether a single-quoted string is still open at the end of `text` (a `#` outside quotes starts a comment up to the line's end). */
function quoteOpenAfter(text: string): boolean {
  let quoted = false;
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (comment) comment = c !== '\n';
    else if (c === "'") quoted = !quoted;
    else if (c === '#' && !quoted && (i === 0 || /\s/.test(text[i - 1]!))) comment = true;
  }
  return quoted;
}

const CURL_STATUS = 'HTTP_STATUS ';
const NEEDS_FINISHED_BUILD = /\/v1\/jobs\/<id>\/logs|\/v1\/builds\/<id>|"reference": "127\.0\.0\.1:5000\/demo\/hello-js:v1"/;

/**
 * The README's quickstart, run as printed against a service configured as `npm run dev` configures it
 * (the local stack and registry, loopback webhooks and registries, a callback secret, builds in the same
 * process, a webhook inbox). The only changes to a command: the service's and the inbox's ports (3000 and
 * 5580 in the README) are this test's, and `<id>`-style placeholders are filled with what the earlier
 * commands made. Each command must exit 0 with the documented status (any 2xx when none is named).
 */
(hasTool('curl', ['--version']) && hasTool('jq', ['--version']) ? describe : describe.skip)('the README quickstart, run as written', () => {
  const env = testEnvironment();
  const examples = tryItExamples(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
  let database: TestDatabase;
  let service: ServiceProcess;
  let inbox: WebhookInbox;
  let home: string;
  let workDir: string;
  let buildDir: string;

  beforeAll(async () => {
    if (env.stackEnv.LOCAL_REGISTRY !== EXAMPLES.registry)
      throw new Error(`the README uses the registry of npm run dev (${EXAMPLES.registry}); the stack's is ${env.stackEnv.LOCAL_REGISTRY}`);
    database = await TestDatabase.create(env.postgresServerUrl);
    const callbackSecret = `whsec_${randomBytes(32).toString('base64')}`;
    inbox = await startWebhookInbox({ host: '127.0.0.1', port: await freePort(), callbackSecret });
    buildDir = mkdtempSync(join(tmpdir(), 'wasm-signer-readme-builds-'));
    chmodSync(buildDir, 0o711);
    service = await ServiceProcess.start(
      testServiceEnv(database.url, 'readme', {
        WEBHOOK_CALLBACK_SECRET: callbackSecret,
        WEBHOOK_ALLOWLIST: '127.0.0.1,::1,localhost',
        REGISTRY_PRIVATE_ALLOWLIST: '127.0.0.1,::1,localhost',
        BUILD_WORKER: 'also',
        BUILD_WORK_DIR: buildDir,
        // The quickstart's builds are accepted (202) but not waited for: they stop early so that they do
        // not hold the machine's CPU past the test.
        BUILD_TIMEOUT_MS: '5000',
      }),
    );
    // The commands run where a reader runs them: a checkout (its files, read-only here) whose data/ holds
    // the development admin key that `npm run dev` made. curl reports each answer's status on stderr.
    workDir = mkdtempSync(join(tmpdir(), 'wasm-signer-readme-'));
    for (const entry of ['src', 'examples', 'test', 'README.md']) symlinkSync(join(REPO_ROOT, entry), join(workDir, entry));
    mkdirSync(join(workDir, 'data'));
    writeFileSync(join(workDir, 'data/dev-admin-key'), `${TEST_ADMIN_KEY}\n`);
    home = mkdtempSync(join(tmpdir(), 'wasm-signer-readme-home-'));
    writeFileSync(join(home, '.curlrc'), `write-out = "%{stderr}${CURL_STATUS}%{http_code}\\n"\n`);
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await inbox?.stop();
    await database?.drop();
    for (const dir of [workDir, home, buildDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (command: string, extraEnv: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-o', 'pipefail', '-c', command], {
        cwd: workDir,
        env: { PATH: process.env.PATH ?? '', HOME: home, LANG: 'C.UTF-8', ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 45_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('finds the quickstart’s commands', () => {
    expect(examples.length).toBeGreaterThan(30);
    expect(examples[0]!.command).toBe('export WASM_SIGNER_KEY=$(cat data/dev-admin-key)');
    expect(examples.filter((e) => e.status !== undefined).map((e) => e.status)).toEqual(expect.arrayContaining([202, 201, 200, 422]));
    expect(examples.some((e) => e.verified)).toBe(true);
  });

  it('reads the development admin key as printed', async () => {
    const { stdout } = await run(`${examples[0]!.command}\nprintf '%s' "$WASM_SIGNER_KEY"`, {});
    expect(stdout).toBe(TEST_ADMIN_KEY);
  });

  it('answers every command as the README documents', async () => {
    const servicePort = new URL(service.baseUrl).port;
    const inboxPort = new URL(inbox.url).port;
    const made: Record<string, string> = {};
    let shellEnv: Record<string, string> = {};
    const ran: { command: string; statuses: number[] }[] = [];
    const skipped: string[] = [];

    /** A signature record of the README's component: what `<id>`, `<logIndex>`, `<entryUuid>` and `<hex>` stand for. */
    const signatureRecord = async () => {
      const page = (await (await service.fetch(`/v1/signatures?repository=${encodeURIComponent(EXAMPLES.repository)}&format=sigstore-bundle`)).json()) as {
        items: { id: string; manifestDigest: string; rekor: { logIndex: number; entryUuid: string } }[];
      };
      return page.items[0]!;
    };
    const fill = async (command: string): Promise<string> => {
      let filled = command
        .replaceAll('localhost:3000', `localhost:${servicePort}`)
        .replaceAll('127.0.0.1:5580', `127.0.0.1:${inboxPort}`)
        .replaceAll('localhost:5580', `localhost:${inboxPort}`);
      if (!filled.includes('<')) return filled;
      if (/\/v1\/(signatures\/<id>|tlog\/entries\/<logIndex>|tlog\/entries\?uuid=<entryUuid>)|sha256-<hex>/.test(filled)) {
        const record = await signatureRecord();
        filled = filled
          .replaceAll('/v1/signatures/<id>', `/v1/signatures/${record.id}`)
          .replaceAll('<logIndex>', String(record.rekor.logIndex))
          .replaceAll('<entryUuid>', record.rekor.entryUuid)
          .replaceAll('sha256-<hex>', record.manifestDigest.replace(':', '-'));
      }
      filled = filled.replaceAll('sha256:<hex>', EXAMPLES.wasmDigest);
      filled = filled.replaceAll('/v1/jobs/<id>/logs', `/v1/jobs/${made.build}/logs`).replaceAll('/v1/builds/<id>', `/v1/builds/${made.build}`);
      filled = filled.replaceAll('/v1/jobs/<id>', `/v1/jobs/${made.job}`);
      if (filled.includes('<msg_id>')) {
        // A delivery to the subscription: the job.succeeded event of the sign job just before.
        made.delivery = await eventually(
          async () => {
            const deliveries = (await (await service.fetch(`/v1/webhooks/${made.webhook}/deliveries`)).json()) as { items: { id: string }[] };
            return deliveries.items[0]?.id;
          },
          30_000,
          'a webhook delivery',
        );
        filled = filled.replaceAll('<msg_id>', made.delivery);
      }
      filled = filled.replaceAll('/v1/webhooks/<id>', `/v1/webhooks/${made.webhook}`);
      expect({ command, unfilled: /<[a-zA-Z_]+>/.exec(filled)?.[0] ?? null }).toEqual({ command, unfilled: null });
      return filled;
    };

    for (const example of examples) {
      // `open` starts a desktop browser; the dashboard it opens is not an example to run here.
      if (example.command.startsWith('open ')) continue;
      // What needs a finished build (its live log, its record, the provenance verification): a build takes
      // minutes on a small machine, past this test's bound; test/builds.e2e-spec.ts builds and verifies.
      if (NEEDS_FINISHED_BUILD.test(example.command)) {
        skipped.push(example.command);
        continue;
      }
      const command = await fill(example.command);
      // A variable the command sets (`export WASM_SIGNER_KEY=…`, `v=…`) is kept for the commands after it.
      const assigned = /^(?:export )?([A-Za-z_][A-Za-z0-9_]*)=/.exec(command)?.[1];
      const result = await run(assigned ? `${command}\nprintf '%s' "$${assigned}"` : command, shellEnv);
      if (assigned) shellEnv = { ...shellEnv, [assigned]: result.stdout };
      const statuses = [...result.stderr.matchAll(new RegExp(`^${CURL_STATUS}(\\d{3})$`, 'gm'))].map((m) => Number(m[1]));
      const what = { command, exit: result.code, stderr: result.stderr.slice(0, 2000) };
      expect(what).toEqual({ ...what, exit: 0 });
      if (/\bcurl\b/.test(command)) {
        const last = statuses.at(-1);
        const expected = example.status ?? (last !== undefined && last >= 200 && last < 300 ? last : 'a 2xx');
        expect({ command, status: last, body: result.stdout.slice(0, 2000) }).toEqual({ command, status: expected, body: expect.any(String) });
        // Every other curl of a pipeline answered 2xx (only the last one may be a documented error).
        expect({ command, earlier: statuses.slice(0, -1).filter((status) => status < 200 || status >= 300) }).toEqual({ command, earlier: [] });
        if (example.verified) expect({ command, verified: (JSON.parse(result.stdout) as { verified: boolean }).verified }).toEqual({ command, verified: true });
      }
      // What later placeholders stand for: the last job made (by a 202), the last build, the subscription.
      if (statuses.at(-1) === 202 || statuses.at(-1) === 201) {
        const answer = JSON.parse(result.stdout) as { id?: string; type?: string; secret?: string };
        if (answer.id && answer.type) made.job = answer.id;
        if (answer.type === 'build') made.build = answer.id!;
        if (answer.secret && !made.webhook) made.webhook = answer.id!;
      }
      ran.push({ command, statuses });
    }
    expect(skipped).toHaveLength(3);
    expect(ran.length).toBe(examples.filter((e) => !e.command.startsWith('open ')).length - skipped.length);
  });
});
