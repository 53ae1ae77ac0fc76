import { Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { DatabaseService } from '../database/database.service';
import type { JobError, JobRow, JobStep, StepName } from '../database/database.types';
import { JobSubmissionError } from './job-submission-error';
import { requestFingerprint } from '../common/request-fingerprint';
import { type CatalogueJobType, JOB_STEPS, type JobInputOf } from './job-catalogue';
import { isUuid } from '../common/uuid';

/** A job to record: its steps are the catalogue's for its type. */
export interface NewJob<T extends CatalogueJobType = CatalogueJobType> {
  type: T;
  input: JobInputOf<T>;
  idempotencyKey?: string;
  caller?: string;
  callbackUrl?: string;
  /**
   * Fingerprint of the request (requestFingerprint) when the caller computed it from the request as sent;
   * by default it is taken over the job's type, input and callbackUrl.
   */
  requestHash?: string;
}

/** Job records: the system of record of every job's state, steps, result and error. */
@Injectable()
export class JobsRepository {
  constructor(private readonly database: DatabaseService) {}

  /**
   * Creates a job, or returns the one already created with the same Idempotency-Key by the same
   * caller (`created: false`). Reusing a key for a different request is a 422.
   */
  async create<T extends CatalogueJobType>(job: NewJob<T>): Promise<{ job: JobRow; created: boolean }> {
    const requestHash = job.idempotencyKey ? (job.requestHash ?? defaultFingerprint(job)) : null;
    const inserted = await this.database.db
      .insertInto('jobs')
      .values({
        type: job.type,
        state: 'queued',
        idempotency_key: job.idempotencyKey ?? null,
        request_hash: requestHash,
        caller: job.caller ?? null,
        input: JSON.stringify(job.input),
        steps: JSON.stringify(JOB_STEPS[job.type].map(pendingStep)),
        callback_url: job.callbackUrl ?? null,
      })
      .onConflict((oc) =>
        oc
          .expression(sql`coalesce(caller, ''), idempotency_key`)
          .where('idempotency_key', 'is not', null)
          .doNothing(),
      )
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { job: inserted, created: true };

    const existing = await this.findByIdempotencyKey(job.idempotencyKey!, job.caller);
    if (!existing) throw new Error('an idempotency conflict without the conflicting job');
    if (existing.request_hash !== requestHash) {
      throw new JobSubmissionError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request', existing.id);
    }
    return { job: existing, created: false };
  }

  /** Removes a job that could not be enqueued, so a retry with the same key starts afresh. */
  async deleteUnstarted(id: string): Promise<void> {
    await this.database.db.deleteFrom('jobs').where('id', '=', id).where('state', '=', 'queued').execute();
  }

  findByIdempotencyKey(key: string, caller?: string): Promise<JobRow | undefined> {
    return this.database.db
      .selectFrom('jobs')
      .selectAll()
      .where('idempotency_key', '=', key)
      .where(sql<boolean>`coalesce(caller, '') = ${caller ?? ''}`)
      .executeTakeFirst();
  }

  async find(id: string): Promise<JobRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.database.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async stepStarted(id: string, step: StepName, worker: string, attempt: number): Promise<JobRow> {
    return this.updateStep(
      id,
      step,
      (s) => ({ ...s, state: 'running', attempts: attempt, startedAt: s.startedAt ?? new Date().toISOString(), worker, error: null }),
      (job) => ({
        state: job.state === 'queued' ? 'running' : job.state,
        started_at: job.started_at ?? new Date(),
      }),
    );
  }

  async stepSucceeded(id: string, step: StepName, resultPatch: Record<string, unknown>): Promise<JobRow> {
    return this.updateStep(
      id,
      step,
      (s) => ({ ...s, state: 'succeeded', finishedAt: new Date().toISOString(), error: null }),
      (job, steps) => {
        const done = steps.every((s) => s.state === 'succeeded' || s.state === 'skipped');
        return {
          result: JSON.stringify({ ...(job.result ?? {}), ...resultPatch }),
          ...(done ? { state: 'succeeded' as const, finished_at: new Date() } : {}),
        };
      },
    );
  }

  /** Records a failed attempt; `final` fails the job (no more retries). */
  async stepFailed(id: string, step: StepName, error: JobError, final: boolean): Promise<JobRow> {
    return this.updateStep(
      id,
      step,
      (s) => ({ ...s, state: final ? 'failed' : 'running', finishedAt: final ? new Date().toISOString() : null, error: { code: error.code, message: error.message } }),
      () => (final ? { state: 'failed' as const, error: JSON.stringify({ ...error, step }), finished_at: new Date() } : {}),
    );
  }

  private async updateStep(
    id: string,
    step: StepName,
    changeStep: (s: JobStep) => JobStep,
    changeJob: (job: JobRow, steps: JobStep[]) => Record<string, unknown>,
  ): Promise<JobRow> {
    return this.database.db.transaction().execute(async (trx) => {
      const job = await trx.selectFrom('jobs').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!job) throw new Error(`job ${id} does not exist`);
      if (job.state === 'succeeded' || job.state === 'failed') return job;
      const steps = job.steps.map((s) => (s.name === step ? changeStep(s) : s));
      return trx
        .updateTable('jobs')
        .set({ steps: JSON.stringify(steps), updated_at: new Date(), ...changeJob(job, steps) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }
}

const pendingStep = (name: StepName): JobStep => ({ name, state: 'pending', attempts: 0, startedAt: null, finishedAt: null, worker: null, error: null });

const defaultFingerprint = (job: NewJob): string => requestFingerprint(job.type, { input: job.input, callbackUrl: job.callbackUrl });
