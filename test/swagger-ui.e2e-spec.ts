import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { hasTool } from './support/required-tool';
import { ServiceProcess, sleep } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, TEST_ADMIN_KEY, testEnvironment, testServiceEnv } from './support/test-environment';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots of each stage, kept as test output (gitignored). */
const SCREENSHOTS = join(REPO_ROOT, 'test-output/swagger-ui');
const COMPONENT = join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm');

/**
 * Swagger UI at /docs, driven in headless Chromium as a person would use it: Authorize with an API key,
 * upload a .wasm through the file picker, follow the job until it succeeds, verify what was published.
 * Everything goes through the page (its forms, buttons and response panels); nothing is sent beside it.
 */
(hasTool('chromium', ['--version']) ? describe : describe.skip)('Swagger UI in a browser', () => {
  const env = testEnvironment();
  const registryHost = env.stackEnv.LOCAL_REGISTRY!;
  const repository = `${registryHost}/e2e/swagger-ui-${randomUUID().slice(0, 8)}`;
  let database: TestDatabase;
  let service: ServiceProcess;
  let userDataDir: string;
  let browser: BrowserContext;
  let page: Page;
  const shots: string[] = [];

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'swagger-ui'));
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), 'wasm-signer-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    if (shots.length > 0) console.log(`Swagger UI screenshots:\n${shots.map((s) => `  ${s}`).join('\n')}`);
    await browser?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const screenshot = async (stage: string) => {
    const path = join(SCREENSHOTS, `${String(shots.length + 1).padStart(2, '0')}-${stage}.png`);
    await page.screenshot({ path, fullPage: false });
    shots.push(path);
  };

  /** Opens an operation, switches it to "Try it out" and returns its block. */
  const tryOut = async (tag: string, operationId: string): Promise<Locator> => {
    const block = page.locator(`#operations-${tag}-${operationId}`);
    await block.scrollIntoViewIfNeeded();
    if (!(await block.evaluate((element) => element.classList.contains('is-open')))) await block.locator('.opblock-summary').first().click();
    const tryOutButton = block.locator('button.try-out__btn');
    if ((await tryOutButton.textContent())?.trim() === 'Try it out') await tryOutButton.click();
    return block;
  };

  const param = (block: Locator, name: string) => block.locator(`tr[data-param-name="${name}"] input, tr[data-param-name="${name}"] textarea`).first();

  /** Clicks Execute and returns the status and body the live response panel shows. */
  const execute = async (block: Locator): Promise<{ status: number; body: string }> => {
    const live = block.locator('.live-responses-table');
    // A second Execute replaces the panel: clear it first so that the answer read is this one's.
    const clear = block.locator('button.btn-clear');
    if (await clear.count()) await clear.first().click();
    await block.locator('button.execute').click();
    const status = live.locator('.response .response-col_status').first();
    await status.waitFor();
    const body = live.locator('.response-col_description .highlight-code pre').first();
    await body.waitFor();
    return { status: Number((await status.textContent())!.trim()), body: (await body.textContent()) ?? '' };
  };

  let jobId: string;

  it('authorizes with an API key', async () => {
    await page.goto(`${service.baseUrl}/docs`);
    await page.locator('.information-container .title').waitFor();
    await screenshot('opened');
    await page.locator('.auth-wrapper button.authorize').click();
    const modal = page.locator('.dialog-ux .modal-ux');
    await modal.locator('#auth-bearer-value').fill(TEST_ADMIN_KEY);
    await modal.locator('button.modal-btn.auth.authorize').click();
    await expect(modal.locator('button.modal-btn.auth', { hasText: 'Logout' }).count()).resolves.toBe(1);
    await screenshot('authorized');
    await modal.locator('button.btn-done').click();
    await expect(page.locator('.auth-wrapper button.authorize.locked').count()).resolves.toBe(1);
  });

  it('uploads a .wasm picked with the file chooser and answers 202 with the job', async () => {
    const block = await tryOut('artifacts', 'Artifacts_upload');
    await param(block, 'repository').fill(repository);
    await param(block, 'tag').fill('v1.0.0');
    // Examples Swagger UI prefills that this upload does not use: a callback (needs WEBHOOK_CALLBACK_SECRET).
    await param(block, 'callbackUrl').fill('');
    await param(block, 'Idempotency-Key').fill('');
    // The raw body (application/wasm, format binary): Swagger UI offers a file input for it.
    await block.locator('.body-param-content-type select').selectOption('application/wasm');
    const fileInput = block.locator('.opblock-section-request-body input[type="file"]');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), fileInput.click()]);
    await chooser.setFiles(COMPONENT);
    await screenshot('upload-filled');
    const { status, body } = await execute(block);
    await screenshot('upload-accepted');
    expect({ status, body }).toEqual({ status: 202, body: expect.stringContaining('"state": "queued"') });
    jobId = (JSON.parse(body) as { id: string }).id;
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    // The request Swagger UI sent: the picked file's bytes, as application/wasm.
    await expect(block.locator('.curl-command').textContent()).resolves.toContain('Content-Type: application/wasm');
  });

  it('follows the job until it succeeded', async () => {
    const block = await tryOut('jobs', 'Jobs_get');
    await param(block, 'id').fill(jobId);
    let last = { status: 0, body: '' };
    for (let attempt = 0; attempt < 40; attempt++) {
      last = await execute(block);
      const state = last.status === 200 ? (JSON.parse(last.body) as { state: string }).state : undefined;
      if (state === 'succeeded' || state === 'failed') break;
      await sleep(1_000);
    }
    await screenshot('job-succeeded');
    expect(last.status).toBe(200);
    const job = JSON.parse(last.body) as { state: string; result: { repository: string; tag: string } };
    expect(job).toMatchObject({ state: 'succeeded', result: { repository, tag: 'v1.0.0' } });
  });

  it('verifies the published component against the identity it was signed as', async () => {
    const block = await tryOut('verifications', 'ArtifactVerification_verify');
    const request = {
      reference: `${repository}:v1.0.0`,
      policy: { certificateIdentity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY, certificateOidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
    };
    await block.locator('.body-param textarea').fill(JSON.stringify(request, null, 2));
    await screenshot('verification-filled');
    const { status, body } = await execute(block);
    await block.locator('.live-responses-table').scrollIntoViewIfNeeded();
    await screenshot('verification-answered');
    expect(status).toBe(200);
    expect(body).toContain('"verified": true');
    expect(JSON.parse(body)).toMatchObject({ verified: true, reference: expect.stringContaining(`${repository}@sha256:`) });
  });

  // Swagger UI shows each error response with the problem codes it can carry.
  it('shows the problem codes of an operation’s errors', async () => {
    const block = page.locator('#operations-artifacts-Artifacts_upload');
    await block.locator('.responses-table').first().scrollIntoViewIfNeeded();
    await expect(block.locator('tr.response[data-code="422"] .response-col_description').first().textContent()).resolves.toContain('WASM_BAD_MAGIC');
    await screenshot('error-codes');
  });
});
