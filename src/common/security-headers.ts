import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * The Content-Security-Policy of every response. The API answers JSON, which a browser never runs; the
 * pages this service serves are Swagger UI (/docs) and the queue dashboard (/admin/queues). Both load
 * their scripts from this origin (`script-src 'self'`, no inline script, no eval) and put inline
 * `<style>` blocks and `style=` attributes in their HTML, and the dashboard loads its fonts' stylesheet
 * over HTTPS (`style-src 'self' https: 'unsafe-inline'`); Swagger UI draws icons from data: URLs and
 * calls the API on this origin. helmet's default policy, less `upgrade-insecure-requests`: the service
 * does not know whether TLS ends in front of it, and on plain HTTP that directive would send the pages'
 * own scripts to an https:// URL nobody answers.
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'https:', 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", 'https:', "'unsafe-inline'"],
  'upgrade-insecure-requests': null,
};

/** What a cross-origin page may send and read, when CORS_ALLOWED_ORIGINS allows its origin. */
const CORS_METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];
const CORS_REQUEST_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'Last-Event-ID'];
const CORS_EXPOSED_HEADERS = ['Location', 'Link', 'Retry-After', 'X-Request-Id'];

/**
 * Security headers on every response (helmet: nosniff, a CSP, frame and referrer policies, HSTS, …),
 * and CORS only for the origins configured: with none, no Access-Control-* header is ever sent, so a
 * browser keeps other sites' pages from reading the API's answers. Registered before any route, so that
 * problems, 404s and the documentation carry them too.
 */
export async function registerSecurityHeaders(app: NestFastifyApplication, options: { corsAllowedOrigins: readonly string[] }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // Swagger UI and the dashboard open no cross-origin windows and embed nothing cross-origin.
    crossOriginEmbedderPolicy: false,
  });
  if (options.corsAllowedOrigins.length === 0) return;
  const allowed = new Set(options.corsAllowedOrigins);
  await app.register(cors, {
    // An exact list. A listed Origin gets itself back; any other Origin (or none) gets no CORS at all,
    // so its preflight is not answered by CORS (it reaches the router: 404) and no header says yes.
    origin: (origin: string | undefined, callback: (error: Error | null, allow: string | false) => void) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: CORS_METHODS,
    allowedHeaders: CORS_REQUEST_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    // Callers authenticate with a bearer token, never a cookie: no credentialed requests.
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  });
}
