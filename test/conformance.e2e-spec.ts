import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ServiceProcess, tempDir } from './support/service-process';
import { REPO_ROOT, testEnvironment } from './support/test-environment';

/**
 * The sigstore-conformance bundle-verification vectors, every case through `POST /v1/verifications/bundle`
 * of a running service, once with the artifact's bytes and once with only its digest (as upstream runs
 * them). A `_fail` case must come back `verified: false` with a code, every other case `verified: true`.
 * Trusted roots are sent inline (the case's own, or the public-good one shipped with the vectors), so
 * nothing is fetched through TUF.
 */
const CONFORMANCE_DIR = resolve(REPO_ROOT, 'test/fixtures/sigstore-conformance');
const VECTORS_DIR = join(CONFORMANCE_DIR, 'bundle-verify');
const PUBLIC_GOOD_ROOT = join(CONFORMANCE_DIR, 'public-good/trusted_root.json');
const DEFAULT_IDENTITY = 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

if (!existsSync(VECTORS_DIR) || !existsSync(PUBLIC_GOOD_ROOT)) {
  throw new Error(
    `The Sigstore conformance vectors are missing: expected ${VECTORS_DIR} and ${PUBLIC_GOOD_ROOT} ` +
      '(committed under test/fixtures/sigstore-conformance, laid out as sigstore-conformance).',
  );
}

const CASES = readdirSync(VECTORS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const MODES = ['artifact', 'digest'] as const;
type Mode = (typeof MODES)[number];

const readOptional = (dir: string, file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : undefined);
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

interface CaseRequest {
  body: Record<string, unknown>;
  /** Identity and issuer a passing case must report (null for key-signed bundles). */
  identity: string | null;
  issuer: string | null;
}

/** The request upstream's harness would make of a case: its bundle, artifact, policy and trusted root. */
function caseRequest(name: string, mode: Mode, overrides: { artifact?: Buffer; trustedRoot?: unknown } = {}): CaseRequest {
  const dir = join(VECTORS_DIR, name);
  const bundleText = readFileSync(join(dir, 'bundle.sigstore.json'), 'utf8');
  const artifact = overrides.artifact ?? readFileSync(existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(VECTORS_DIR, 'a.txt'));
  const trustedRoot = overrides.trustedRoot ?? JSON.parse(readOptional(dir, 'trusted_root.json') ?? readFileSync(PUBLIC_GOOD_ROOT, 'utf8'));
  const publicKey = readOptional(dir, 'key.pub');
  const identity = readOptional(dir, 'identity')?.trim() ?? DEFAULT_IDENTITY;
  const issuer = readOptional(dir, 'issuer')?.trim() ?? DEFAULT_ISSUER;
  return {
    body: {
      // The bundle as a JSON document; a file that is not JSON (bundle-malformed-json_fail) as its text.
      bundle: parsesAsJson(bundleText) ? JSON.parse(bundleText) : bundleText,
      ...(mode === 'artifact' ? { artifact: artifact.toString('base64') } : { artifactDigest: sha256(artifact) }),
      policy: publicKey ? { publicKey } : { certificateIdentity: identity, certificateOidcIssuer: issuer },
      trustedRoot,
    },
    identity: publicKey ? null : identity,
    issuer: publicKey ? null : issuer,
  };
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

interface VerificationResult {
  verified: boolean;
  identity: string | null;
  issuer: string | null;
  error: { code: string; message: string } | null;
}

describe('Sigstore bundle-verification conformance', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await ServiceProcess.start({
      REDIS_URL: testEnvironment().redisUrl,
      DATA_DIR: tempDir('conformance'),
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
      TRUST_ROOTS: `conformance-public-good=${PUBLIC_GOOD_ROOT},broken=${join(tempDir('no-root'), 'trusted_root.json')}`,
    });
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
  });

  const verify = async (body: unknown): Promise<{ status: number; result: VerificationResult }> => {
    const response = await service.fetch('/v1/verifications/bundle', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, result: (await response.json()) as VerificationResult };
  };

  it('drives every case listed in MANIFEST.tsv', () => {
    const listed = readFileSync(join(CONFORMANCE_DIR, 'MANIFEST.tsv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t')[0])
      .filter(Boolean)
      .sort();
    expect(CASES).toEqual(listed);
    expect(CASES.length).toBeGreaterThan(0);
  });

  it.each(CASES.flatMap((name) => MODES.map((mode) => [name, mode] as const)))('%s (%s)', async (name, mode) => {
    const request = caseRequest(name, mode);
    const { status, result } = await verify(request.body);
    expect(status).toBe(200);
    if (name.endsWith('_fail')) {
      expect({ verified: result.verified, error: result.error }).toEqual({
        verified: false,
        error: { code: expect.stringMatching(/^[A-Z][A-Z0-9_]+$/), message: expect.any(String) },
      });
    } else {
      expect(result).toEqual({ verified: true, identity: request.identity, issuer: request.issuer, error: null });
    }
  });

  describe('says why a bundle fails', () => {
    it.each([
      ['bundle-malformed-json_fail', 'BUNDLE_MALFORMED'],
      ['bundle-unknown-version_fail', 'BUNDLE_UNSUPPORTED_VERSION'],
      ['bundle-with-root-cert_fail', 'CERTIFICATE_CHAIN_INCLUDES_ROOT'],
      ['message-digest-mismatch_fail', 'ARTIFACT_MISMATCH'],
      ['managed-key-no-key_fail', 'POLICY_MATERIAL_MISMATCH'],
      ['checkpoint-wrong-roothash_fail', 'TLOG_INCLUSION_PROOF_INVALID'],
      ['intoto-expired-certificate_fail', 'CERTIFICATE_INVALID'],
      ['rekor2-no-timestamp_fail', 'TIMESTAMP_INVALID'],
      ['trust-root-tlog-missing-validity-start_fail', 'TRUSTED_ROOT_MALFORMED'],
    ])('%s: %s', async (name, code) => {
      for (const mode of MODES) {
        const { result } = await verify(caseRequest(name, mode).body);
        expect({ mode, verified: result.verified, code: result.error?.code }).toEqual({ mode, verified: false, code });
      }
    });

    // sigstore-js accepts trust-root-tlog-missing-validity-start_fail: its toTrustMaterial reads a
    // transparency-log key whose validFor has no start as valid since the beginning of time. The
    // service refuses such a trusted root (parseTrustedRoot). This shows that the missing start is the
    // only reason the case fails: with the tlog's start restored, the same bundle verifies.
    it('fails trust-root-tlog-missing-validity-start_fail for its trusted root alone', async () => {
      const dir = join(VECTORS_DIR, 'trust-root-tlog-missing-validity-start_fail');
      const root = JSON.parse(readFileSync(join(dir, 'trusted_root.json'), 'utf8')) as { tlogs: { publicKey: { validFor?: { start?: string } } }[] };
      const withoutStart = root.tlogs.filter((tlog) => tlog.publicKey.validFor && !tlog.publicKey.validFor.start);
      expect(withoutStart).toHaveLength(1);
      withoutStart[0]!.publicKey.validFor!.start = '2025-01-01T00:00:00Z';
      for (const mode of MODES) {
        const { result } = await verify(caseRequest('trust-root-tlog-missing-validity-start_fail', mode, { trustedRoot: root }).body);
        expect({ mode, ...result }).toEqual({ mode, verified: true, identity: DEFAULT_IDENTITY, issuer: DEFAULT_ISSUER, error: null });
      }
    });

    it('requires the artifact of a DSSE bundle to be a subject of its statement', async () => {
      for (const mode of MODES) {
        const { result } = await verify(caseRequest('happy-path-intoto-in-dsse-v3', mode, { artifact: Buffer.from('not the attested artifact\n') }).body);
        expect({ mode, verified: result.verified, code: result.error?.code }).toEqual({ mode, verified: false, code: 'ARTIFACT_MISMATCH' });
      }
    });
  });

  describe('policies', () => {
    const withPolicy = (policy: Record<string, string>) => ({ ...caseRequest('happy-path-v0.3', 'artifact').body, policy });

    it('matches identity and issuer regular expressions against the whole value', async () => {
      const anchored = await verify(
        withPolicy({ certificateIdentityRegExp: 'https://github\\.com/sigstore-conformance/.+', certificateOidcIssuerRegExp: 'https://token\\.actions\\.githubusercontent\\.com' }),
      );
      expect(anchored.result).toEqual({ verified: true, identity: DEFAULT_IDENTITY, issuer: DEFAULT_ISSUER, error: null });

      const substring = await verify(withPolicy({ certificateIdentityRegExp: 'github\\.com/sigstore-conformance', certificateOidcIssuer: DEFAULT_ISSUER }));
      expect(substring.result).toMatchObject({ verified: false, identity: DEFAULT_IDENTITY, error: { code: 'POLICY_IDENTITY_MISMATCH' } });
    });

    it('names the mismatching part of the policy', async () => {
      const identity = await verify(withPolicy({ certificateIdentity: `${DEFAULT_IDENTITY}x`, certificateOidcIssuer: DEFAULT_ISSUER }));
      expect(identity.result).toMatchObject({ verified: false, error: { code: 'POLICY_IDENTITY_MISMATCH' } });
      const issuer = await verify(withPolicy({ certificateIdentity: DEFAULT_IDENTITY, certificateOidcIssuer: 'https://accounts.google.com' }));
      expect(issuer.result).toMatchObject({ verified: false, identity: DEFAULT_IDENTITY, issuer: DEFAULT_ISSUER, error: { code: 'POLICY_ISSUER_MISMATCH' } });
    });
  });

  describe('trust roots', () => {
    it('lists the configured roots without fetching the public-good root', async () => {
      const response = await service.fetch('/v1/trust-roots');
      expect(response.status).toBe(200);
      const { trustRoots } = (await response.json()) as { trustRoots: Record<string, unknown>[] };
      const byName = Object.fromEntries(trustRoots.map((root) => [root.name, root]));
      expect(Object.keys(byName).sort()).toEqual(['broken', 'conformance-public-good', 'default', 'public-good']);
      expect(byName['public-good']).toMatchObject({ source: 'tuf', state: 'not-loaded', contents: null });
      expect(byName.default).toMatchObject({ source: 'tuf', aliasOf: 'public-good', state: 'not-loaded' });
      expect(byName.broken).toMatchObject({ source: 'trusted_root.json', state: 'failed', error: { code: 'TRUST_ROOT_UNAVAILABLE' }, contents: null });
      expect(byName['conformance-public-good']).toMatchObject({
        source: 'trusted_root.json',
        state: 'loaded',
        contents: {
          certificateAuthorities: [
            { subject: 'O=sigstore.dev, CN=sigstore', validFor: { start: '2021-03-07T03:20:29.000Z', end: '2022-12-31T23:59:59.999Z' } },
            { subject: 'O=sigstore.dev, CN=sigstore', validFor: { start: '2022-04-13T20:06:15.000Z', end: null } },
          ],
          tlogs: expect.arrayContaining([expect.objectContaining({ baseUrl: 'https://rekor.sigstore.dev', logId: 'wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=' })]),
          ctlogs: expect.any(Array),
          timestampAuthorities: expect.any(Array),
        },
      });
    });

    it('verifies with a configured root named in the request', async () => {
      const { trustedRoot: _inline, ...body } = caseRequest('happy-path-v0.3', 'digest').body;
      const { status, result } = await verify({ ...body, trustRoot: 'conformance-public-good' });
      expect(status).toBe(200);
      expect(result).toEqual({ verified: true, identity: DEFAULT_IDENTITY, issuer: DEFAULT_ISSUER, error: null });
    });
  });

  describe('a request that cannot be read is a problem document', () => {
    const base = () => caseRequest('happy-path-v0.3', 'artifact').body;
    const post = (body: string) => service.fetch('/v1/verifications/bundle', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const withoutKeys = (body: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(body).filter(([key]) => !keys.includes(key)));

    it.each([
      ['not JSON', () => '{"bundle":', 400, 'MALFORMED_JSON'],
      ['no artifact', () => JSON.stringify(withoutKeys(base(), 'artifact')), 400, 'ARTIFACT_REQUIRED'],
      ['both artifact and digest', () => JSON.stringify({ ...base(), artifactDigest: `sha256:${'0'.repeat(64)}` }), 400, 'ARTIFACT_AMBIGUOUS'],
      ['a malformed digest', () => JSON.stringify({ ...withoutKeys(base(), 'artifact'), artifactDigest: 'sha256:xyz' }), 400, 'VALIDATION_FAILED'],
      ['a bundle that is a number', () => JSON.stringify({ ...base(), bundle: 42 }), 400, 'VALIDATION_FAILED'],
      ['an unknown field', () => JSON.stringify({ ...base(), colour: 'red' }), 400, 'VALIDATION_FAILED'],
      [
        'a policy with a key and an identity',
        () => JSON.stringify({ ...base(), policy: { publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', certificateIdentity: 'x' } }),
        400,
        'INVALID_POLICY',
      ],
      ['a policy without an issuer', () => JSON.stringify({ ...base(), policy: { certificateIdentity: DEFAULT_IDENTITY } }), 400, 'INVALID_POLICY'],
      [
        'a malformed regular expression',
        () => JSON.stringify({ ...base(), policy: { certificateIdentityRegExp: 'https://(github', certificateOidcIssuer: DEFAULT_ISSUER } }),
        422,
        'INVALID_REGEXP',
      ],
      [
        'a regular expression escaping its anchors',
        () => JSON.stringify({ ...base(), policy: { certificateIdentityRegExp: 'x)|(.*', certificateOidcIssuer: DEFAULT_ISSUER } }),
        422,
        'INVALID_REGEXP',
      ],
      ['both a trust root name and a trusted root', () => JSON.stringify({ ...base(), trustRoot: 'conformance-public-good' }), 400, 'TRUST_ROOT_AMBIGUOUS'],
      ['an unknown trust root', () => JSON.stringify({ ...withoutKeys(base(), 'trustedRoot'), trustRoot: 'nowhere' }), 422, 'TRUST_ROOT_NOT_FOUND'],
      ['a trust root that cannot be loaded', () => JSON.stringify({ ...withoutKeys(base(), 'trustedRoot'), trustRoot: 'broken' }), 503, 'TRUST_ROOT_UNAVAILABLE'],
    ])('%s', async (_what, body, status, code) => {
      const response = await post(body());
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await response.json()).toMatchObject({ status, code });
    });
  });
});
