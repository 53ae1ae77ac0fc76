import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { version } from '../../package.json';
import { BEARER_SCHEME } from '../access/authorize';
import { documentProblemResponses } from './problem-responses';

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
    operationIdFactory: (controllerKey, methodKey) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  return documentProblemResponses(document);
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
