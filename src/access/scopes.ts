/**
 * What a caller may do. A route names the one scope it needs (`@Authorize`); `admin` holds every scope.
 * Repository patterns (repository-patterns.ts) then say where a caller may push, sign, build and verify.
 */
export const SCOPES = ['artifacts:write', 'signatures:write', 'builds:write', 'verifications:write', 'records:read', 'webhooks:manage', 'metrics:read', 'admin'] as const;

export type Scope = (typeof SCOPES)[number];

export const SCOPE_DESCRIPTIONS: Readonly<Record<Scope, string>> = {
  'artifacts:write': 'publish .wasm artifacts (POST /v1/artifacts) into repositories the caller may use',
  'signatures:write': 'sign artifacts already in a registry (POST /v1/signatures)',
  'builds:write': 'build components from source (POST /v1/builds)',
  'verifications:write': 'verify artifacts and bundles (POST /v1/verifications…)',
  'records:read': 'read signature and verification records and transparency-log entries',
  'webhooks:manage': 'create, list, rotate and delete the caller’s own webhook subscriptions',
  'metrics:read': 'scrape /metrics when METRICS_REQUIRE_AUTH is on',
  admin: 'everything, in every repository: API keys, the audit log, every job and subscription',
};

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

/** Whether `granted` allows `needed` (`admin` allows everything). */
export const scopeAllows = (granted: ReadonlySet<Scope>, needed: Scope): boolean => granted.has('admin') || granted.has(needed);
