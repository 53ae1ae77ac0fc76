import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finishedJob, type JobView } from './support/jobs';
import { hasOpenssl, opensslCertificateFacts } from './support/openssl-x509';
import { ServiceProcess, tempDir } from './support/service-process';
import { TestDatabase } from './support/test-database';
import { REPO_ROOT, testEnvironment, testServiceEnv } from './support/test-environment';

const component = readFileSync(join(REPO_ROOT, 'src/artifacts/__fixtures__/hello-http.wasm'));

interface RecordView {
  id: string;
  format: string;
  repository: string;
  manifestDigest: string;
  wasmDigest: string | null;
  jobId: string | null;
  rekor: { logIndex: number; entryUuid: string; integratedTime: string; logId: string };
  identity: string;
  issuer: string;
  createdAt: string;
  certificate?: { pem: string; decoded: Record<string, any> };
  bundle?: Record<string, any>;
}

interface PageView {
  items: RecordView[];
  nextCursor: string | null;
  next: string | null;
}

/** The records API and transparency-log lookups, against the real registry, PostgreSQL and the local Rekor. */
describe('signature records and transparency log entries', () => {
  const env = testEnvironment();
  const repository = `${env.stackEnv.LOCAL_REGISTRY}/e2e/${randomUUID().slice(0, 12)}`;
  let database: TestDatabase;
  let service: ServiceProcess;
  let job: JobView;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    service = await ServiceProcess.start(testServiceEnv(database.url, 'records'));
    const response = await service.fetch(`/v1/artifacts?repository=${encodeURIComponent(repository)}&tag=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/wasm' },
      body: component,
    });
    expect(response.status).toBe(202);
    job = await finishedJob(service, ((await response.json()) as JobView).id);
    expect(job.state).toBe('succeeded');
    expect(job.result!.signatures).toHaveLength(2);
  });

  afterAll(async () => {
    await service?.stop('SIGTERM');
    await database?.drop();
  });

  const getJson = async <T>(path: string, target = service): Promise<{ status: number; body: T; headers: Headers }> => {
    const response = await target.fetch(path);
    return { status: response.status, body: (await response.json()) as T, headers: response.headers };
  };
  const expectProblem = async (path: string, status: number, code: string, target = service) => {
    const response = await target.fetch(path);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await response.json()) as { code: string };
    expect({ path, status: response.status, code: problem.code }).toEqual({ path, status, code });
  };
  const signatureIds = () => (job.result!.signatures as { id: string }[]).map((s) => s.id).sort();
  const list = async (query: Record<string, string>) => {
    const { status, body } = await getJson<PageView>(`/v1/signatures?${new URLSearchParams(query).toString()}`);
    expect(status).toBe(200);
    return body;
  };

  describe('GET /v1/signatures', () => {
    it('finds both records of the job by manifest digest, by .wasm digest, and by identity with repository', async () => {
      const byManifest = await list({ digest: job.result!.manifestDigest });
      expect(byManifest.items.map((r) => r.id).sort()).toEqual(signatureIds());
      expect(byManifest.items.map((r) => r.format).sort()).toEqual(['cosign-classic', 'sigstore-bundle']);
      expect(byManifest.nextCursor).toBeNull();
      expect(byManifest.items[0]).toMatchObject({ repository, manifestDigest: job.result!.manifestDigest, wasmDigest: job.result!.wasmDigest, jobId: job.id });

      const byWasm = await list({ digest: job.result!.wasmDigest });
      expect(byWasm.items.map((r) => r.id).sort()).toEqual(signatureIds());

      const byIdentity = await list({ identity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY!, issuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL!, repository });
      expect(byIdentity.items.map((r) => r.id).sort()).toEqual(signatureIds());

      expect((await list({ repository, format: 'sigstore-bundle' })).items.map((r) => r.format)).toEqual(['sigstore-bundle']);
      expect((await list({ repository, identity: 'https://kubernetes.io/namespaces/other/serviceaccounts/x' })).items).toEqual([]);
      expect((await list({ repository, since: new Date(Date.now() + 60_000).toISOString() })).items).toEqual([]);
      expect((await list({ repository, until: new Date(Date.now() + 60_000).toISOString() })).items).toHaveLength(2);
    });

    it('pages with limit=1: newest first, following next until it ends, each record once', async () => {
      const first = await getJson<PageView>(`/v1/signatures?repository=${encodeURIComponent(repository)}&limit=1`);
      expect(first.body.items).toHaveLength(1);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      expect(first.body.next).toBe(`/v1/signatures?repository=${encodeURIComponent(repository)}&limit=1&cursor=${first.body.nextCursor}`);
      expect(first.headers.get('link')).toBe(`<${first.body.next}>; rel="next"`);

      const second = await getJson<PageView>(first.body.next!);
      expect(second.body.items).toHaveLength(1);
      const [a, b] = [first.body.items[0]!, second.body.items[0]!];
      expect([a.id, b.id].sort()).toEqual(signatureIds());
      expect(a.createdAt >= b.createdAt).toBe(true);

      if (second.body.next) expect((await getJson<PageView>(second.body.next)).body).toEqual({ items: [], nextCursor: null, next: null });
      else expect(second.body.nextCursor).toBeNull();
    });

    it('refuses bad filter values with 400 VALIDATION_FAILED', async () => {
      for (const query of [
        'digest=sha256:xyz',
        'limit=0',
        'limit=201',
        'limit=ten',
        'since=yesterday',
        'until=2026-13-01T00:00:00Z',
        'since=2026-02-30T00:00:00Z',
        'format=pgp',
        'cursor=not-a-cursor',
        'colour=blue',
        'since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z',
      ]) {
        await expectProblem(`/v1/signatures?${query}`, 400, 'VALIDATION_FAILED');
      }
    });
  });

  describe('GET /v1/signatures over many records', () => {
    // Twelve records from early 2026 (the job's are newer); several share a creation time to the
    // microsecond, so only the id orders them.
    const times = ['2026-01-01T00:00:00.000001Z', '2026-01-01T00:00:00.000001Z', '2026-01-01T00:00:00.000001Z', '2026-01-01T00:00:00.000002Z', '2026-01-02T00:00:00.000000Z'];
    const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
    const rows = Array.from({ length: 12 }, (_, i) => ({
      id: randomUUID(),
      createdAt: times[i % times.length]!,
      repository: `registry.test/${i % 2 === 0 ? 'a' : 'b'}-${randomUUID().slice(0, 8)}`,
      manifestDigest: digest(i % 3),
      wasmDigest: digest(100 + (i % 3)),
      format: i % 2 === 0 ? 'cosign-classic' : 'sigstore-bundle',
    }));
    const newestFirst = (ids: string[]) =>
      rows
        .filter((r) => ids.includes(r.id))
        .sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1))
        .map((r) => r.id);
    const window = { since: '2026-01-01T00:00:00Z', until: '2026-01-03T00:00:00Z' };

    beforeAll(async () => {
      for (const [i, r] of rows.entries()) {
        await database.query(
          `insert into signatures (id, repository, reference, manifest_digest, wasm_digest, format, rekor_log_index, rekor_entry_uuid, rekor_integrated_time,
             rekor_log_id, certificate_pem, identity, issuer, certificate_not_before, certificate_not_after, bundle, created_at)
           values ($1, $2, $2 || '@' || $3, $3, $4, $5, $6, $7, $8, $9, 'PEM', 'https://example.test/signer', 'https://issuer.test', $8, $8, '{}', $8)`,
          [r.id, r.repository, r.manifestDigest, r.wasmDigest, r.format, 9_000_000_000 + i, `${i}`.padStart(80, 'f'), r.createdAt, 'ab'.repeat(32)],
        );
      }
    });

    /** Follows `next` from the first page to the last and returns the ids in the order served. */
    const walk = async (query: Record<string, string>) => {
      const ids: string[] = [];
      let path: string | null = `/v1/signatures?${new URLSearchParams(query).toString()}`;
      for (let pages = 0; path && pages < 50; pages++) {
        const page: { status: number; body: PageView } = await getJson<PageView>(path);
        expect(page.status).toBe(200);
        ids.push(...page.body.items.map((r) => r.id));
        path = page.body.next;
      }
      expect(path).toBeNull();
      return ids;
    };

    it.each(['1', '2', '5', '12', '200'])('walks them all once, newest first and by id, with limit=%s', async (limit) => {
      expect(await walk({ ...window, limit })).toEqual(newestFirst(rows.map((r) => r.id)));
    });

    it('filters across pages by digest, format and creation time', async () => {
      const ids = (predicate: (r: (typeof rows)[number]) => boolean) => newestFirst(rows.filter(predicate).map((r) => r.id));
      expect(await walk({ ...window, digest: digest(1), limit: '1' })).toEqual(ids((r) => r.manifestDigest === digest(1)));
      expect(await walk({ ...window, digest: digest(102), limit: '1' })).toEqual(ids((r) => r.wasmDigest === digest(102)));
      expect(await walk({ ...window, format: 'sigstore-bundle', limit: '2' })).toEqual(ids((r) => r.format === 'sigstore-bundle'));
      expect(await walk({ since: '2026-01-01T00:00:00.000002Z', until: window.until, limit: '2' })).toEqual(ids((r) => r.createdAt >= '2026-01-01T00:00:00.000002Z'));
      expect(await walk({ since: window.since, until: '2026-01-01T00:00:00.000002Z', limit: '2' })).toEqual(ids((r) => r.createdAt < '2026-01-01T00:00:00.000002Z'));
    });
  });

  describe('GET /v1/signatures/{id} and its certificate', () => {
    let record: RecordView;
    let pem: string;

    beforeAll(async () => {
      const classic = (job.result!.signatures as { id: string; format: string }[]).find((s) => s.format === 'cosign-classic')!;
      const response = await getJson<RecordView>(`/v1/signatures/${classic.id}`);
      expect(response.status).toBe(200);
      record = response.body;
      const certificate = await service.fetch(`/v1/signatures/${classic.id}/certificate`);
      expect(certificate.status).toBe(200);
      expect(certificate.headers.get('content-type')).toMatch(/^application\/pem-certificate-chain/);
      pem = await certificate.text();
    });

    it('is the record the job reported, with its Rekor entry, identity and bundle', () => {
      const reported = (job.result!.signatures as Record<string, any>[]).find((s) => s.id === record.id)!;
      expect(record).toMatchObject({
        format: 'cosign-classic',
        repository,
        manifestDigest: job.result!.manifestDigest,
        jobId: job.id,
        identity: env.stackEnv.LOCAL_CERTIFICATE_IDENTITY,
        issuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL,
        rekor: { logIndex: reported.logIndex, entryUuid: reported.entryUuid, integratedTime: reported.integratedTime, logId: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
      // Proto3 JSON leaves out a zero log index (the first entry of a fresh log).
      expect(record.bundle!.verificationMaterial.tlogEntries[0].logIndex ?? '0').toBe(String(reported.logIndex));
      expect(pem.trim()).toBe(record.certificate!.pem.trim());
    });

    it('decodes the certificate: the identity in the SAN, the issuer in the Fulcio extension', () => {
      expect(record.certificate!.decoded).toMatchObject({
        subject: '',
        subjectAlternativeNames: { uris: [env.stackEnv.LOCAL_CERTIFICATE_IDENTITY] },
        oidcIssuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL,
        fulcioExtensions: { issuer: env.stackEnv.LOCAL_OIDC_ISSUER_URL },
      });
    });

    (hasOpenssl ? it : it.skip)('decodes it as openssl x509 prints the same PEM', () => {
      const decoded = record.certificate!.decoded;
      const openssl = opensslCertificateFacts(pem);
      expect({
        subject: decoded.subject,
        issuer: decoded.issuer,
        notBefore: decoded.notBeforeText,
        notAfter: decoded.notAfterText,
        serial: decoded.serialNumber,
        fingerprintSha256: decoded.fingerprintSha256,
        uris: decoded.subjectAlternativeNames.uris,
        emails: decoded.subjectAlternativeNames.emails,
        fulcioIssuer: decoded.fulcioExtensions.issuer,
      }).toEqual(openssl);
    });

    it('answers 404 SIGNATURE_NOT_FOUND for an unknown id', async () => {
      await expectProblem(`/v1/signatures/${randomUUID()}`, 404, 'SIGNATURE_NOT_FOUND');
      await expectProblem(`/v1/signatures/${randomUUID()}/certificate`, 404, 'SIGNATURE_NOT_FOUND');
      await expectProblem('/v1/signatures/not-a-uuid', 404, 'SIGNATURE_NOT_FOUND');
    });
  });

  describe('GET /v1/tlog/entries', () => {
    interface EntryView {
      LogID: string;
      Index: number;
      IntegratedTime: string;
      UUID: string;
      Body: Record<string, any>;
      source: string;
      verification: { setVerified: boolean; inclusionProofVerified: boolean | null; leafHashMatchesUuid: boolean; failures: string[] };
      certificate: { pem: string; decoded: Record<string, any> } | null;
    }
    const records = async () => Promise.all(signatureIds().map(async (id) => (await getJson<RecordView>(`/v1/signatures/${id}`)).body));
    const expectEntryOf = (entry: EntryView, record: RecordView, source: string) => {
      expect(entry).toMatchObject({ Index: record.rekor.logIndex, UUID: record.rekor.entryUuid, LogID: record.rekor.logId, source });
      expect(Date.parse(entry.IntegratedTime)).toBe(Date.parse(record.rekor.integratedTime));
      expect(entry.IntegratedTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(entry.verification).toMatchObject({ setVerified: true, inclusionProofVerified: true, leafHashMatchesUuid: true, failures: [] });
      expect(entry.Body.kind).toBe(record.format === 'cosign-classic' ? 'hashedrekord' : 'dsse');
      expect(entry.certificate!.pem.trim()).toBe(record.certificate!.pem.trim());
      expect(entry.certificate!.decoded.subjectAlternativeNames.uris).toEqual([record.identity]);
    };

    it('answers both entries from Rekor, by log index and by UUID, matching the records, SET and inclusion proof verified', async () => {
      for (const record of await records()) {
        const byIndex = await getJson<EntryView>(`/v1/tlog/entries/${record.rekor.logIndex}`);
        expect(byIndex.status).toBe(200);
        expectEntryOf(byIndex.body, record, 'rekor');
        const byUuid = await getJson<EntryView>(`/v1/tlog/entries?uuid=${record.rekor.entryUuid}`);
        expect(byUuid.status).toBe(200);
        expectEntryOf(byUuid.body, record, 'rekor');
        expect(byUuid.body).toEqual(byIndex.body);
        const byLeafHash = await getJson<EntryView>(`/v1/tlog/entries?uuid=${record.rekor.entryUuid.slice(16)}`);
        expectEntryOf(byLeafHash.body, record, 'rekor');
      }
    });

    it('answers 404 TLOG_ENTRY_NOT_FOUND for an index or UUID the log does not have, 400 for malformed ones', async () => {
      await expectProblem('/v1/tlog/entries/999999999', 404, 'TLOG_ENTRY_NOT_FOUND');
      await expectProblem(`/v1/tlog/entries?uuid=${'0'.repeat(64)}`, 404, 'TLOG_ENTRY_NOT_FOUND');
      await expectProblem('/v1/tlog/entries/-1', 400, 'VALIDATION_FAILED');
      await expectProblem('/v1/tlog/entries/twelve', 400, 'VALIDATION_FAILED');
      await expectProblem('/v1/tlog/entries?uuid=xyz', 400, 'VALIDATION_FAILED');
      await expectProblem('/v1/tlog/entries', 400, 'VALIDATION_FAILED');
    });

    describe('with Rekor unreachable', () => {
      let offline: ServiceProcess;

      beforeAll(async () => {
        offline = await ServiceProcess.start({
          ...env.stackEnv,
          ROLE: 'api',
          SIGSTORE_REKOR_URL: 'http://127.0.0.1:9',
          DATABASE_URL: database.url,
          DATA_DIR: tempDir('records-offline'),
          REDIS_URL: env.redisUrl,
          QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
        });
      });

      afterAll(async () => {
        await offline?.stop('SIGTERM');
      });

      it("answers the service's own entries from its records, verified", async () => {
        for (const record of await records()) {
          const byIndex = await getJson<EntryView>(`/v1/tlog/entries/${record.rekor.logIndex}`, offline);
          expect(byIndex.status).toBe(200);
          expectEntryOf(byIndex.body, record, 'records');
          const byUuid = await getJson<EntryView>(`/v1/tlog/entries?uuid=${record.rekor.entryUuid}`, offline);
          expectEntryOf(byUuid.body, record, 'records');
          const byLeafHash = await getJson<EntryView>(`/v1/tlog/entries?uuid=${record.rekor.entryUuid.slice(16)}`, offline);
          expectEntryOf(byLeafHash.body, record, 'records');
        }
      });

      it('answers 503 REKOR_UNAVAILABLE for entries it has no record of', async () => {
        await expectProblem('/v1/tlog/entries/999999999', 503, 'REKOR_UNAVAILABLE', offline);
      });
    });
  });
});
