import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPolicy } from '../verification/artifact-verification.service';
import { buildSignerPolicy } from '../verification/signer-policy-request';

/**
 * The committed OpenAPI document promises what the request parsers accept: every property of a
 * verification request's `policy` schema is taken by the parser that reads that endpoint's policy, and
 * the parser takes no field the schema does not name. (Two DTOs of one name once made the bundle
 * endpoint promise `annotations`, which it refuses.)
 */
interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  allOf?: Schema[];
}
const document = JSON.parse(readFileSync(join(__dirname, '../../openapi/openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  components: { schemas: Record<string, Schema> };
};

function resolve(schema: Schema): Schema {
  if (schema.$ref) return resolve(document.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!);
  if (schema.allOf?.length === 1) return resolve(schema.allOf[0]!);
  return schema;
}

function policySchema(path: string): Record<string, Schema> {
  const body = resolve(document.paths[path]!.post!.requestBody!.content['application/json']!.schema);
  return resolve(body.properties!.policy!).properties!;
}

const PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
const BASE = { certificateIdentity: 'https://example.com/ci', certificateOidcIssuer: 'https://issuer.example.com' };
/** A valid policy that uses this field, beside what it needs (an identity needs an issuer, a key stands alone). */
const POLICY_USING: Record<string, Record<string, unknown>> = {
  certificateIdentity: BASE,
  certificateOidcIssuer: BASE,
  certificateIdentityRegExp: { certificateIdentityRegExp: 'https://example\\.com/.*', certificateOidcIssuer: BASE.certificateOidcIssuer },
  certificateOidcIssuerRegExp: { certificateIdentity: BASE.certificateIdentity, certificateOidcIssuerRegExp: 'https://issuer\\..*' },
  publicKey: { publicKey: PUBLIC_KEY },
  annotations: { ...BASE, annotations: { team: 'platform' } },
  provenance: { ...BASE, provenance: { builder: 'cargo' } },
};
/** A valid policy.provenance that uses this field. */
const PROVENANCE_USING: Record<string, Record<string, unknown>> = {
  builderId: { builderId: BASE.certificateIdentity },
  builderIdRegExp: { builderIdRegExp: 'https://example\\.com/.*' },
  sourceDigest: { sourceDigest: `sha256:${'a'.repeat(64)}` },
  sourceRepository: { sourceRepository: 'https://git.example/org/repo' },
  builder: { builder: 'cargo' },
};

describe.each([
  { path: '/v1/verifications', parse: (policy: Record<string, unknown>) => readPolicy(policy) },
  { path: '/v1/verifications/bundle', parse: (policy: Record<string, unknown>) => buildSignerPolicy(policy) },
])('POST $path: the policy schema and its parser', ({ path, parse }) => {
  const properties = policySchema(path);

  it('documents a policy', () => {
    expect(Object.keys(properties)).toEqual(expect.arrayContaining(['certificateIdentity', 'certificateOidcIssuer', 'publicKey']));
  });

  it.each(Object.keys(POLICY_USING))('the parser takes %s exactly when the schema names it', (field) => {
    const accepted = (() => {
      try {
        parse(POLICY_USING[field]!);
        return true;
      } catch {
        return false;
      }
    })();
    expect({ field, documented: field in properties }).toEqual({ field, documented: accepted });
  });

  it('names no field this test does not know how to try', () => {
    expect(Object.keys(properties).filter((field) => !(field in POLICY_USING))).toEqual([]);
  });
});

describe('POST /v1/verifications: policy.provenance', () => {
  const properties = resolve(policySchema('/v1/verifications').provenance!).properties!;

  it('documents exactly the fields the parser takes', () => {
    expect(Object.keys(properties).sort()).toEqual(Object.keys(PROVENANCE_USING).sort());
    for (const [field, provenance] of Object.entries(PROVENANCE_USING)) {
      expect({ field, provenance: readPolicy({ ...BASE, provenance }).provenance }).toEqual({ field, provenance: expect.any(Object) });
    }
    expect(() => readPolicy({ ...BASE, provenance: { undocumented: 'x' } })).toThrow();
  });
});

describe('POST /v1/verifications/bundle', () => {
  it('does not promise policy.annotations', () => {
    expect(Object.keys(policySchema('/v1/verifications/bundle'))).not.toContain('annotations');
  });
});
