import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { version } from '../../package.json';
import { documentProblemResponses } from './problem-responses';

/** The OpenAPI document of the HTTP API, built from the controllers and DTOs. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('wasm-signer')
    .setDescription(
      'Publishes WebAssembly components to OCI registries, signs them keyless with Sigstore ' +
        '(Fulcio certificate from the workload identity, Rekor transparency log entry) and verifies them ' +
        'against identity policies. Errors are RFC 9457 application/problem+json with a stable `code`.',
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
