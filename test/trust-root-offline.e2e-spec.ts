import { copyFileSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_EXAMPLE } from '../src/openapi/examples';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';
import { ServiceProcess, eventually, freePort } from './support/service-process';
import { TestDatabase } from './support/test-database';

/**
 * The public-good TUF mirror cannot be reached (a closed loopback port) and DATA_DIR holds a last good
 * copy of the public-good root: the service starts, stays ready, says the root is stale everywhere an
 * operator looks, and verifies a public-good bundle offline with that copy.
 */
describe('public-good trust root without the TUF mirror', () => {
  let database: TestDatabase;
  let service: ServiceProcess;
  let dataDir: string;
  const fetchedAt = new Date(Date.now() - 2 * 3600_000);

  beforeAll(async () => {
    database = await TestDatabase.create(testEnvironment().postgresServerUrl);
    const closedPort = await freePort();
    const env = testServiceEnv(database.url, 'trust-offline', { SIGSTORE_TUF_MIRROR_URL: `http://127.0.0.1:${closedPort}`, SIGSTORE_TUF_TIMEOUT_SECONDS: '3' });
    dataDir = env.DATA_DIR!;
    mkdirSync(join(dataDir, 'trust'));
    const copy = join(dataDir, 'trust', 'public-good-trusted-root.json');
    copyFileSync(join(REPO_ROOT, 'src/sigstore/__fixtures__/public-good-trusted-root.json'), copy);
    utimesSync(copy, fetchedAt, fetchedAt);
    service = await ServiceProcess.start(env);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await database?.drop();
  });

  type TrustRootReadiness = { state: string; servedFrom?: string; ageSeconds?: number; fetchedAt?: string; lastError?: { message: string } | null };

  it('is ready, with the root stale and served from the last good copy', async () => {
    const details = await eventually(
      async () => {
        const response = await service.fetch('/health/ready');
        const body = (await response.json()) as { details: Record<string, Record<string, unknown>> };
        const publicGood = body.details['trust-root']?.['public-good'] as TrustRootReadiness | undefined;
        return response.status === 200 && publicGood?.state === 'stale' ? body.details : undefined;
      },
      30_000,
      'readiness with a stale public-good root',
    );
    expect(details['trust-root']).toMatchObject({
      status: 'up',
      'public-good': {
        state: 'stale',
        servedFrom: 'disk',
        fetchedAt: fetchedAt.toISOString(),
        lastError: { message: expect.stringContaining(`127.0.0.1`) },
        nextAttemptAt: expect.any(String),
      },
    });
    expect((details['trust-root']!['public-good'] as TrustRootReadiness).ageSeconds).toBeGreaterThanOrEqual(7200);
    expect(service.logs).toContain('trust root stale');
  });

  it('lists public-good as stale, served from disk', async () => {
    const response = await service.fetch('/v1/trust-roots');
    expect(response.status).toBe(200);
    const { trustRoots } = (await response.json()) as { trustRoots: Array<{ name: string; state: string; tuf: { servedFrom: string } | null; error: { code: string } | null }> };
    const publicGood = trustRoots.find((root) => root.name === 'public-good')!;
    expect(publicGood).toMatchObject({ state: 'stale', tuf: { servedFrom: 'disk' }, error: { code: 'TRUST_ROOT_UNAVAILABLE' } });
  });

  it('says so in the metrics', async () => {
    const text = await (await service.fetch('/metrics')).text();
    expect(text).toMatch(/^wasm_signer_trust_root_stale\{trust_root="public-good"\} 1$/m);
    const age = Number(/^wasm_signer_trust_root_age_seconds\{trust_root="public-good"\} (\S+)$/m.exec(text)?.[1]);
    expect(age).toBeGreaterThanOrEqual(7200);
  });

  it('verifies a public-good bundle with trustRoot public-good, offline', async () => {
    const { bundle, artifactDigest, certificateIdentity, certificateOidcIssuer } = BUNDLE_EXAMPLE;
    const response = await service.fetch('/v1/verifications/bundle', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bundle, artifactDigest, policy: { certificateIdentity, certificateOidcIssuer }, trustRoot: 'public-good' }),
    });
    const body = (await response.json()) as { verified: boolean; error: unknown };
    expect({ status: response.status, body }).toMatchObject({ status: 200, body: { verified: true, error: null } });
  });

  it('keeps the last good copy as it was (nothing fetched to replace it)', () => {
    expect(readdirSync(join(dataDir, 'trust'))).toEqual(['public-good-trusted-root.json']);
  });
});
