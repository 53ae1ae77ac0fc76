import { Script, createContext } from 'node:vm';
import { ServiceProcess } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { testEnvironment, testServiceEnv } from './support/test-environment';

const CONSOLE = 'https://console.example.com';
const OTHER = 'https://evil.example.net';

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: string | null): Map<string, string[]> {
  const parsed = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) parsed.set(name.toLowerCase(), values);
  }
  return parsed;
}

function expectSecurityHeaders(response: Response): void {
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('x-powered-by')).toBeNull();
  expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  const csp = directives(response.headers.get('content-security-policy'));
  expect(csp.get('default-src')).toEqual(["'self'"]);
  expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  expect(csp.get('object-src')).toEqual(["'none'"]);
}

/** Runs swagger-ui-init.js as the page would, and returns the document it gives Swagger UI. */
async function specShownBy(initScript: string): Promise<unknown> {
  const window: { onload?: () => void; location: { search: string; origin: string }; ui?: unknown } = { location: { search: '', origin: 'http://127.0.0.1' } };
  let spec: unknown;
  const SwaggerUIBundle = Object.assign(
    (options: { spec: unknown }) => {
      spec = options.spec;
      return {};
    },
    { presets: { apis: {} }, plugins: { DownloadUrl: {} } },
  );
  new Script(initScript, { filename: 'swagger-ui-init.js' }).runInContext(createContext({ window, SwaggerUIBundle, SwaggerUIStandalonePreset: {} }));
  window.onload!();
  return JSON.parse(JSON.stringify(spec)) as unknown;
}

describe('security headers and CORS', () => {
  let database: TestDatabase;
  let plain: ServiceProcess;
  let withCors: ServiceProcess;

  beforeAll(async () => {
    database = await TestDatabase.create(testEnvironment().postgresServerUrl);
    [plain, withCors] = await Promise.all([
      ServiceProcess.start(testServiceEnv(database.url, 'headers')),
      ServiceProcess.start(testServiceEnv(database.url, 'cors', { CORS_ALLOWED_ORIGINS: `${CONSOLE}, http://127.0.0.1:8080` })),
    ]);
  });

  afterAll(async () => {
    await Promise.all([plain?.stop(), withCors?.stop()]);
    await database?.drop();
  });

  it('sends them on API answers, problems and probes', async () => {
    for (const path of ['/health/live', '/v1/jobs/00000000-0000-4000-8000-000000000000', '/no/such/route', '/docs-json']) {
      const response = await plain.fetch(path);
      await response.arrayBuffer();
      expectSecurityHeaders(response);
    }
  });

  it('serves Swagger UI under a policy that lets it run: its scripts from this origin, none inline', async () => {
    const page = await plain.fetch('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expectSecurityHeaders(page);
    const csp = directives(page.headers.get('content-security-policy'));
    const html = await page.text();

    // script-src 'self' without 'unsafe-inline': every script must come from a src on this origin.
    expect(csp.get('script-src')).toEqual(["'self'"]);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    for (const [, attributes, body] of scripts) {
      const src = /\bsrc="([^"]+)"/.exec(attributes!)?.[1];
      expect({ src, inline: body!.trim() }).toEqual({ src: expect.any(String), inline: '' });
      const url = new URL(src!, `${plain.baseUrl}/docs`);
      expect(url.origin).toBe(plain.baseUrl);
      const script = await plain.fetch(url.pathname);
      expect({ path: url.pathname, status: script.status }).toEqual({ path: url.pathname, status: 200 });
      expect(script.headers.get('content-type')).toMatch(/javascript/);
      expectSecurityHeaders(script);
      if (url.pathname.endsWith('swagger-ui-init.js')) {
        // The initialiser runs, and hands Swagger UI the very document /docs-json serves.
        expect(await specShownBy(await script.text())).toEqual(await (await plain.fetch('/docs-json')).json());
      } else {
        await script.arrayBuffer();
      }
    }
    // The page has inline <style> blocks and style= attributes, and its stylesheet on this origin.
    expect(html).toMatch(/<style>/);
    expect(csp.get('style-src')).toEqual(expect.arrayContaining(["'self'", "'unsafe-inline'"]));
    const stylesheet = /<link rel="stylesheet" type="text\/css" href="([^"]+)"/.exec(html)?.[1];
    expect((await plain.fetch(new URL(stylesheet!, `${plain.baseUrl}/docs`).pathname)).status).toBe(200);
    // Swagger UI's icons are data: URLs, and it calls the API on this origin.
    expect(csp.get('img-src')).toEqual(expect.arrayContaining(["'self'", 'data:']));
    expect(csp.get('connect-src')).toEqual(["'self'"]);
    // On plain HTTP the page's own scripts must not be rewritten to https://.
    expect(csp.has('upgrade-insecure-requests')).toBe(false);
  });

  it('sends no CORS headers when CORS_ALLOWED_ORIGINS is unset', async () => {
    const simple = await plain.fetch('/health/live', { headers: { origin: CONSOLE } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await plain.fetch('/v1/signatures', {
      method: 'OPTIONS',
      headers: { origin: CONSOLE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('answers the preflight of a listed origin, and only of a listed one', async () => {
    const preflight = (origin: string) =>
      withCors.fetch('/v1/signatures', {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization,idempotency-key' },
      });

    const allowed = await preflight(CONSOLE);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toEqual(expect.stringContaining('authorization'));
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    expect(allowed.headers.get('vary')).toMatch(/origin/i);

    const refused = await preflight(OTHER);
    await refused.arrayBuffer();
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.headers.get('access-control-allow-methods')).toBeNull();

    // The listed origin reads answers (and the headers it needs); another origin's page cannot.
    const read = await withCors.fetch('/health/live', { headers: { origin: CONSOLE } });
    expect(read.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(read.headers.get('access-control-expose-headers')).toContain('Location');
    const other = await withCors.fetch('/health/live', { headers: { origin: OTHER } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // An origin differing only in scheme or port is another origin.
    const http = await withCors.fetch('/health/live', { headers: { origin: 'http://console.example.com' } });
    expect(http.headers.get('access-control-allow-origin')).toBeNull();
  });
});
