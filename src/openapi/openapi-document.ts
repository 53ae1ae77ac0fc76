import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { version } from '../../package.json';
import { BEARER_SCHEME, REQUIRED_SCOPE_EXTENSION } from '../access/authorize';
import { documentProblemResponses } from './problem-responses';

/** An operation's id: its controller's name without `Controller`, and the handler's (`ApiKeys_create`). The audit log names actions by it. */
export const operationId = (controllerKey: string, methodKey: string): string => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`;

/** The OpenAPI document of the HTTP API, built from the controllers and DTOs. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('wasm-signer')
    .setDescription(
      'Publishes WebAssembly components to OCI registries, signs them keyless with Sigstore ' +
        '(Fulcio certificate from the workload identity, Rekor transparency log entry) and verifies them ' +
        'against identity policies. Errors are RFC 9457 application/problem+json with a stable `code`. ' +
        'Every /v1 call sends `Authorization: Bearer` with an API key or a trusted CI/workload OIDC token (Authorize above). ' +
        'Uploads, sign requests and verifications count against per-caller budgets per minute: their answers carry the ' +
        '`RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers), and a caller over its budget gets 429 with `Retry-After`.',
    )
    .setVersion(version)
    .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
    .addTag('artifacts', 'Upload a .wasm: pushed to an OCI registry in the oci-wasm layout, signed and verified as one job')
    .addTag(
      'builds',
      'Build a component from source (componentize-js, cargo) in a sandbox; pushed, signed, attested with SLSA provenance and verified as one job; builders and build logs',
    )
    .addTag('signatures', 'Sign artifacts already in a registry; the signature records with their Rekor entries and certificates')
    .addTag('verifications', 'May this artifact run? Verify registry artifacts and Sigstore bundles against identity policies and trust roots')
    .addTag('transparency log', 'Rekor entries as `rekor-cli get` shows them, their SET and inclusion proof checked')
    .addTag('webhooks', 'Subscriptions to job and signature events, signed per Standard Webhooks, with every delivery attempt recorded')
    .addTag('jobs', 'Asynchronous work and its progress')
    .addTag('operations', 'Health, metrics and pipeline probes')
    .addTag('access', 'API keys (admins create, list and revoke them) and the audit log of every change and refusal')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        description: 'An API key (`wsk_…`) or a CI/workload OIDC token admitted by a trusted-publisher rule. Every /v1 route needs one; each names its scope in x-required-scope.',
      },
      BEARER_SCHEME,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey, methodKey) => operationId(controllerKey, methodKey),
  });
  return documentProblemResponses(documentDatabaseOutage(documentAuditLogRefusal(documentTokenIssuerFailures(document))));
}

const AUDIT_LOG_REFUSAL = 'AUDIT_LOG_UNAVAILABLE: the audit log (database) could not record the request; it was not carried out';

/**
 * A mutating /v1 request is refused before it runs when the audit log cannot record it (the audit log
 * fails closed): every such operation documents that 503 besides its own.
 */
function documentAuditLogRefusal(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of ['post', 'put', 'patch', 'delete'] as const) {
      const responses = item[method]?.responses as Record<string, { description?: string }> | undefined;
      if (responses) addUnavailable(responses, AUDIT_LOG_REFUSAL);
    }
  }
  return document;
}

const DATABASE_OUTAGE =
  'DATABASE_UNAVAILABLE: the database did not answer; DATABASE_STORAGE_FULL: the database could not write for lack of space (both with Retry-After; the request may not have been carried out)';

/** Every /v1 operation reads or writes the database, and is answered so while it is out. */
function documentDatabaseOutage(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const responses = item[method]?.responses as Record<string, { description?: string }> | undefined;
      if (responses) addUnavailable(responses, DATABASE_OUTAGE);
    }
  }
  return document;
}

const TOKEN_ISSUER_FAILURES =
  'OIDC_ISSUER_UNAVAILABLE: an OIDC token’s issuer (discovery document or keys) could not be reached; TRUSTED_PUBLISHER_RULES_INVALID: the trusted-publisher rules file changed and is not valid (OIDC tokens are refused until it is fixed)';

/** Every operation that takes a credential can meet the two failures of checking an OIDC token. */
function documentTokenIssuerFailures(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const operation of Object.values(item as Record<string, { responses?: Record<string, { description?: string }>; [REQUIRED_SCOPE_EXTENSION]?: string }>)) {
      if (operation?.[REQUIRED_SCOPE_EXTENSION] !== undefined && operation.responses) addUnavailable(operation.responses, TOKEN_ISSUER_FAILURES);
    }
  }
  return document;
}

/** Adds a cause to an operation's 503, making the response when it documents none. */
function addUnavailable(responses: Record<string, { description?: string }>, cause: string): void {
  const unavailable = responses['503'];
  if (unavailable) unavailable.description = `${unavailable.description ?? ''}; ${cause}`.replace(/^; /, '');
  else responses['503'] = { description: cause, content: { 'application/json': { schema: { $ref: '#/components/schemas/ProblemDto' } } } } as { description: string };
}

/** JSON with object keys sorted at every level, so the committed document only changes when the API does. */
export function stableJson(value: unknown): string {
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * The document as Swagger UI's initialiser must be given it. @nestjs/swagger writes the document into
 * swagger-ui-init.js with `String.prototype.replace` and a string replacement, so `$\``, `$'`, `$&` and
 * `$$` in the document are read as replacement patterns: a description saying "anchored as `^(?:…)$`"
 * broke the script and left /docs blank. Doubling every `$` (in keys and values) makes the replacement
 * write the document as it is.
 */
export function documentForSwaggerUiInit(document: OpenAPIObject): OpenAPIObject {
  return escapeDollars(document) as OpenAPIObject;
}

function escapeDollars(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('$', '$$$$');
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.replaceAll('$', '$$$$'), escapeDollars(inner)]));
  }
  return value;
}
