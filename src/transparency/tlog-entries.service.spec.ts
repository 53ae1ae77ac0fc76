import { Logger } from '@nestjs/common';
import type { TrustMaterial } from '@sigstore/verify';
import { ProblemError } from '../common/problem';
import type { SignatureRow } from '../database/database.types';
import { StepError } from '../pipeline/step-error';
import type { SignatureRecordQueries } from '../database/signature-record-queries';
import type { TrustRootLoader } from '../sigstore/trust-root-loader';
import { bundleEntryUuid, fixtureJson, localStackRekorEntry, logKeys } from '../sigstore/__fixtures__/vectors';
import type { RekorClient, RekorEntry } from '../sigstore/rekor-client';
import { TlogEntries } from './tlog-entries.service';

const REKOR_URL = 'http://127.0.0.1:5556';
const answer = localStackRekorEntry();
const BUNDLE = 'public-good-hashedrekord.sigstore.json';

/** A Rekor that answers from a list, or fails as told, and counts its calls. */
class FakeRekor {
  calls = 0;
  failure: Error | undefined;
  constructor(private readonly entries: RekorEntry[]) {}
  async getByIndex(logIndex: number): Promise<RekorEntry | undefined> {
    this.calls++;
    if (this.failure) throw this.failure;
    return this.entries.find((e) => e.logIndex === logIndex);
  }
  async getByUuid(uuid: string): Promise<RekorEntry | undefined> {
    this.calls++;
    if (this.failure) throw this.failure;
    return this.entries.find((e) => e.uuid.endsWith(uuid.slice(-64)));
  }
}

function recordsHolding(rows: Partial<SignatureRow>[]): SignatureRecordQueries {
  return {
    findByLogIndex: async (logIndex: number) => rows.filter((r) => r.rekor_log_index === logIndex),
    findByEntryUuid: async (uuid: string) => rows.filter((r) => r.rekor_entry_uuid!.endsWith(uuid.slice(-64))),
  } as unknown as SignatureRecordQueries;
}

const trustRoot = (fixture: string) => ({ trustMaterial: async () => ({ tlogs: logKeys(fixture) }) as unknown as TrustMaterial }) as unknown as TrustRootLoader;

describe('TlogEntries', () => {
  beforeAll(() => Logger.overrideLogger(false));

  const setup = (entries: RekorEntry[] = [answer], rows: Partial<SignatureRow>[] = [], root = 'local-stack-trusted-root.json') => {
    const rekor = new FakeRekor(entries);
    const service = new TlogEntries(rekor as unknown as RekorClient, REKOR_URL, trustRoot(root), recordsHolding(rows), 10);
    return { rekor, service };
  };

  const problemOf = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProblemError);
    return error as ProblemError;
  };

  it('answers an entry by index and by UUID from Rekor, verified, and caches it', async () => {
    const { rekor, service } = setup();
    const byIndex = await service.byLogIndex(answer.logIndex);
    expect(byIndex).toMatchObject({
      Index: answer.logIndex,
      UUID: answer.uuid,
      LogID: answer.logID,
      source: 'rekor',
      verification: { setVerified: true, inclusionProofVerified: true },
    });
    expect(byIndex.certificate!.decoded.subjectAlternativeNames.uris).toEqual(['https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer']);
    const byUuid = await service.byUuid(answer.uuid.toUpperCase());
    const byLeaf = await service.byUuid(answer.uuid.slice(16));
    expect(byUuid).toEqual(byIndex);
    expect(byLeaf).toEqual(byIndex);
    expect(rekor.calls).toBe(1);
  });

  it('answers 404 TLOG_ENTRY_NOT_FOUND for an entry Rekor does not have', async () => {
    const { service } = setup();
    const problem = await problemOf(service.byLogIndex(answer.logIndex + 1000));
    expect([problem.status, problem.code]).toEqual([404, 'TLOG_ENTRY_NOT_FOUND']);
    expect((await problemOf(service.byUuid('0'.repeat(64)))).code).toBe('TLOG_ENTRY_NOT_FOUND');
  });

  it("answers from the records when Rekor cannot be reached: the stored bundle's entry, verified", async () => {
    const uuid = bundleEntryUuid(BUNDLE);
    const record = {
      rekor_log_index: 79571823,
      rekor_entry_uuid: uuid,
      rekor_log_id: 'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d',
      bundle: fixtureJson(BUNDLE),
    };
    const { rekor, service } = setup([], [record], 'public-good-trusted-root.json');
    rekor.failure = StepError.transient('REKOR_UNREACHABLE', `Rekor at ${REKOR_URL} could not be reached: connect ECONNREFUSED`);
    const byIndex = await service.byLogIndex(79571823);
    expect(byIndex).toMatchObject({
      Index: 79571823,
      UUID: uuid,
      IntegratedTime: '2024-03-19T17:26:26Z',
      source: 'records',
      verification: { setVerified: true, inclusionProofVerified: true },
    });
    expect(await service.byUuid(uuid)).toEqual(byIndex);
    // Answers from the records are not cached: the next lookup asks Rekor again.
    rekor.failure = undefined;
    expect((await problemOf(service.byLogIndex(79571823))).code).toBe('TLOG_ENTRY_NOT_FOUND');
  });

  it('answers 503 REKOR_UNAVAILABLE when Rekor cannot be reached and no record holds the entry', async () => {
    const { rekor, service } = setup([], []);
    rekor.failure = StepError.transient('REKOR_UNAVAILABLE', `Rekor at ${REKOR_URL} answered HTTP 503`);
    const problem = await problemOf(service.byLogIndex(5));
    expect([problem.status, problem.code]).toEqual([503, 'REKOR_UNAVAILABLE']);
    expect(problem.detail).toContain('log index 5');
  });

  it('answers 502 REKOR_BAD_RESPONSE for a refused request, a malformed entry or another entry than asked for', async () => {
    const refused = setup();
    refused.rekor.failure = StepError.permanent('REKOR_REJECTED', 'Rekor answered HTTP 400');
    expect((await problemOf(refused.service.byLogIndex(1))).code).toBe('REKOR_BAD_RESPONSE');

    const malformed = setup([{ ...answer, body: 42 as unknown as string }]);
    expect((await problemOf(malformed.service.byLogIndex(answer.logIndex))).code).toBe('REKOR_BAD_RESPONSE');

    const wrong = setup([{ ...answer, logIndex: 3 }]);
    wrong.rekor.getByIndex = async () => ({ ...answer, logIndex: 3 });
    const problem = await problemOf(wrong.service.byLogIndex(4));
    expect([problem.status, problem.code]).toEqual([502, 'REKOR_BAD_RESPONSE']);
  });

  it('reports the checks that fail instead of failing the lookup', async () => {
    const { service } = setup([answer], [], 'public-good-trusted-root.json');
    const view = await service.byLogIndex(answer.logIndex);
    expect(view.verification).toMatchObject({ setVerified: false, inclusionProofVerified: false, leafHashMatchesUuid: true });
    expect(view.verification.failures.length).toBeGreaterThan(0);
  });
});
