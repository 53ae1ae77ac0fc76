import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { ListSignaturesQueryDto } from '../signing/signature-record.dto';
import { SignRequestDto } from '../signing/sign-request.dto';
import { TlogEntryQueryDto } from '../transparency/tlog-entries.controller';
import { VerifyArtifactDto } from '../verification/artifact-verification.dto';
import { BundleVerificationRequestDto } from '../verification/bundle-verification.dto';
import { CreateWebhookDto } from '../webhooks/webhook.dto';

/**
 * Every field a caller sends has a bound, and the API description says which: in the committed document
 * (`npm run openapi:check` keeps it equal to what the code produces), every string of a request body,
 * query, path or header has a maxLength, every array a maxItems and every map a maxProperties. A new
 * field without one fails here. Exempt: the .wasm file itself (`format: binary`, bounded by
 * MAX_UPLOAD_BYTES), strings restricted to an enum, and whole documents passed through
 * (`additionalProperties: true`: a Sigstore bundle or trusted root, bounded by the JSON body limit and
 * depth, and read by their own parsers, which the fuzz tests exercise).
 */
/** Where @nestjs/swagger keeps ApiProperty options (its DECORATORS constants, which the package does not export). */
const DECORATORS = { API_MODEL_PROPERTIES: 'swagger/apiModelProperties', API_MODEL_PROPERTIES_ARRAY: 'swagger/apiModelPropertiesArray' };

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
}
interface Parameter {
  name: string;
  in: string;
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
const document = JSON.parse(readFileSync(join(__dirname, '../../openapi/openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

/** Where the walk found a field without a bound: `POST /v1/x body.policy.annotations (map without maxProperties)`. */
function unbounded(schema: Schema | undefined, where: string, seen: Set<string> = new Set()): string[] {
  if (!schema) return [`${where} (no schema)`];
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    if (seen.has(name)) return [];
    return unbounded(document.components.schemas[name], where, new Set([...seen, name]));
  }
  const found: string[] = [];
  for (const [i, inner] of [...(schema.allOf ?? []), ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].entries()) found.push(...unbounded(inner, `${where}<${i}>`, seen));
  if (schema.allOf || schema.oneOf || schema.anyOf) return found;

  if (schema.type === 'string') {
    if (schema.enum === undefined && schema.format !== 'binary' && schema.maxLength === undefined) found.push(`${where} (string without maxLength)`);
  } else if (schema.type === 'array') {
    if (schema.maxItems === undefined) found.push(`${where} (array without maxItems)`);
    found.push(...unbounded(schema.items, `${where}[]`, seen));
  } else if (schema.type === 'object' || schema.properties || schema.additionalProperties) {
    for (const [name, property] of Object.entries(schema.properties ?? {})) found.push(...unbounded(property, `${where}.${name}`, seen));
    if (typeof schema.additionalProperties === 'object') {
      if (schema.maxProperties === undefined) found.push(`${where} (map without maxProperties)`);
      found.push(...unbounded(schema.additionalProperties, `${where}{}`, seen));
    }
  } else if (schema.type === undefined && schema.enum === undefined) {
    found.push(`${where} (no type)`);
  }
  return found;
}

const operations = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
);

describe('the API description bounds every request field', () => {
  it('finds request bodies, query, path and header parameters to check', () => {
    const parameters = operations.flatMap(({ operation }) => operation.parameters ?? []);
    expect(new Set(parameters.map((p) => p.in))).toEqual(new Set(['query', 'path', 'header']));
    expect(operations.filter(({ operation }) => operation.requestBody).length).toBeGreaterThanOrEqual(6);
  });

  it.each(operations)('$name', ({ name, operation }) => {
    const found: string[] = [];
    for (const parameter of operation.parameters ?? []) found.push(...unbounded(parameter.schema, `${name} ${parameter.in}:${parameter.name}`));
    for (const [mediaType, { schema }] of Object.entries(operation.requestBody?.content ?? {})) found.push(...unbounded(schema, `${name} body(${mediaType})`));
    expect(found).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    expect(unbounded({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'array', items: { type: 'string', maxLength: 1 } } } }, 'x')).toEqual([
      'x.a (string without maxLength)',
      'x.b (array without maxItems)',
    ]);
    expect(unbounded({ type: 'object', additionalProperties: { type: 'string' } }, 'm')).toEqual(['m (map without maxProperties)', 'm{} (string without maxLength)']);
    expect(unbounded({ oneOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }] }, 'd')).toEqual(['d<1> (string without maxLength)']);
  });
});

/**
 * The bound the description states is the bound the validator enforces: for each request DTO, every
 * documented maxLength / maxItems has a class-validator MaxLength / ArrayMaxSize of the same value.
 * (Fields read by parsers rather than DTOs — upload fields, policies — are tested with their parsers.)
 */
describe('request DTOs enforce the bounds they document', () => {
  const dtos = [SignRequestDto, VerifyArtifactDto, BundleVerificationRequestDto, CreateWebhookDto, ListSignaturesQueryDto, TlogEntryQueryDto];

  it.each(dtos.map((dto) => [dto.name, dto] as const))('%s', (_name, dto) => {
    const documented = (Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, dto.prototype) as string[] | undefined) ?? [];
    const validations = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
    const enforced = (property: string, type: string) => validations.find((v) => v.propertyName === property && v.name === type)?.constraints?.[0] as number | undefined;
    const mismatches: string[] = [];
    let checked = 0;
    for (const key of documented.map((k) => k.replace(/^:/, ''))) {
      const options = Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES, dto.prototype, key) as { maxLength?: number; maxItems?: number };
      if (options.maxLength !== undefined || options.maxItems !== undefined) checked++;
      if (options.maxLength !== undefined && enforced(key, 'maxLength') !== options.maxLength)
        mismatches.push(`${key}: documents maxLength ${options.maxLength}, enforces ${enforced(key, 'maxLength')}`);
      if (options.maxItems !== undefined && enforced(key, 'arrayMaxSize') !== options.maxItems)
        mismatches.push(`${key}: documents maxItems ${options.maxItems}, enforces ${enforced(key, 'arrayMaxSize')}`);
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThan(0);
  });
});
