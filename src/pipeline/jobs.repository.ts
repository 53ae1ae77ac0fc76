import { Injectable } from '@nestjs/common';
import { type RawBuilder, sql } from 'kysely';
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

  /** Notes that a job's pipeline is in the queues: the sweeper leaves it alone from then on. */
  async markEnqueued(id: string): Promise<void> {
    await this.database.db
      .updateTable('jobs')
      .set({ enqueued_at: sql`now()` as never })
      .where('id', '=', id)
      .where('enqueued_at', 'is', null)
      .execute();
  }

  /**
   * Removes a job that could not be enqueued, so the caller can be told it was not accepted and a retry
   * with the same key starts afresh. Only while it is still unqueued and unstarted: false when the
   * sweeper enqueued it meanwhile (or a worker started it) — the job then stands and will run.
   */
  async withdrawUnqueued(id: string): Promise<boolean> {
    const deleted = await this.database.db.deleteFrom('jobs').where('id', '=', id).where('state', '=', 'queued').where('enqueued_at', 'is', null).executeTakeFirst();
    return deleted.numDeletedRows > 0n;
  }

  /**
   * Jobs recorded more than `graceMs` ago (by the database's clock, the same for every replica) that are
   * still queued and were never noted as enqueued: their producer died, or lost Redis, between the two
   * writes. Oldest first.
   */
  unqueued(graceMs: number, limit: number): Promise<Pick<JobRow, 'id' | 'type' | 'steps' | 'created_at'>[]> {
    return this.database.db
      .selectFrom('jobs')
      .select(['id', 'type', 'steps', 'created_at'])
      .where('state', '=', 'queued')
      .where('enqueued_at', 'is', null)
      .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${graceMs / 1000})`)
      .orderBy('created_at')
      .limit(limit)
      .execute();
  }

  /**
   * Jobs noted as enqueued, not finished, whose last change is more than `graceMs` old (by the database's
   * clock): the ones whose queue entries may have vanished from Redis. Least recently changed first,
   * after `after` (the last one of the previous page).
   */
  unfinishedUnchanged(
    graceMs: number,
    limit: number,
    after?: { updatedAt: Date; id: string },
  ): Promise<Pick<JobRow, 'id' | 'type' | 'steps' | 'updated_at' | 'step_heartbeat_at'>[]> {
    const cutoff = sql<Date>`now() - make_interval(secs => ${graceMs / 1000})`;
    let query = this.database.db
      .selectFrom('jobs')
      .select(['id', 'type', 'steps', 'updated_at', 'step_heartbeat_at'])
      .where('state', 'in', ['queued', 'running'])
      .where('enqueued_at', 'is not', null)
      .where('updated_at', '<', cutoff)
      // A worker still running its current step says so (a long build): not lost.
      .where((eb) => eb.or([eb('step_heartbeat_at', 'is', null), eb('step_heartbeat_at', '<', cutoff)]));
    if (after) query = query.where(sql<boolean>`(updated_at, id) > (${after.updatedAt}, ${after.id}::uuid)`);
    return query.orderBy('updated_at').orderBy('id').limit(limit).execute();
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

  /** A worker says it is still running the job's current step; nothing else of the job changes. */
  async stepHeartbeat(id: string): Promise<void> {
    await this.database.db
      .updateTable('jobs')
      .set({ step_heartbeat_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('state', 'in', ['queued', 'running'])
      .execute();
  }

  async stepStarted(id: string, step: StepName, worker: string, attempt: number): Promise<JobRow> {
    const now = new Date();
    // startedAt is kept from the first attempt.
    const firstStart = sql`case when jsonb_typeof(s->'startedAt') = 'string' then '{}'::jsonb else jsonb_build_object('startedAt', ${now.toISOString()}::text) end`;
    const change = stepsWith(step, { state: 'running', attempts: attempt, worker, error: null }, firstStart);
    return this.updateStep(id, change, {
      state: sql`case when state = 'queued' then 'running' else state end`,
      started_at: sql`coalesce(started_at, ${now})`,
    });
  }

  async stepSucceeded(id: string, step: StepName, resultPatch: Record<string, unknown>): Promise<JobRow> {
    const now = new Date();
    // The job is done when every other step has succeeded or was skipped.
    const othersDone = sql<boolean>`not exists (select 1 from jsonb_array_elements(steps) as other(s) where s->>'name' <> ${step} and s->>'state' not in ('succeeded', 'skipped'))`;
    return this.updateStep(id, stepsWith(step, { state: 'succeeded', finishedAt: now.toISOString(), error: null }), {
      result: sql`coalesce(result, '{}'::jsonb) || ${JSON.stringify(resultPatch)}::jsonb`,
      state: sql`case when ${othersDone} then 'succeeded' else state end`,
      finished_at: sql`case when ${othersDone} then ${now}::timestamptz else finished_at end`,
    });
  }

  /** Records a failed attempt; `final` fails the job (no more retries). */
  async stepFailed(id: string, step: StepName, error: JobError, final: boolean): Promise<JobRow> {
    const now = new Date();
    return this.updateStep(
      id,
      stepsWith(step, { state: final ? 'failed' : 'running', finishedAt: final ? now.toISOString() : null, error: { code: error.code, message: error.message } }),
      final ? { state: 'failed', error: JSON.stringify({ ...error, step }), finished_at: now } : {},
    );
  }

  /**
   * One statement per step transition: the step's fields and the job's columns changed in the row
   * itself (no read-modify-write transaction: one round trip instead of four), computed from the row as
   * it is when the update takes it, and never on a finished job, which is returned as it is.
   */
  private async updateStep(id: string, steps: RawBuilder<unknown>, changeJob: Record<string, unknown>): Promise<JobRow> {
    const updated = await this.database.db
      .updateTable('jobs')
      .set({ ...changeJob, steps: steps as never, updated_at: new Date() })
      .where('id', '=', id)
      .where('state', 'not in', ['succeeded', 'failed'])
      .returningAll()
      .executeTakeFirst();
    if (updated) return updated;
    const job = await this.find(id);
    if (!job) throw new Error(`job ${id} does not exist`);
    return job;
  }
}

/** The job's steps with `patch` merged into the step named `step` (and `extra`, an expression over it as `s`). */
function stepsWith(step: StepName, patch: Record<string, unknown>, extra?: RawBuilder<unknown>): RawBuilder<unknown> {
  const merged = extra ? sql`s || ${JSON.stringify(patch)}::jsonb || ${extra}` : sql`s || ${JSON.stringify(patch)}::jsonb`;
  return sql`(select jsonb_agg(case when s->>'name' = ${step} then ${merged} else s end order by position) from jsonb_array_elements(steps) with ordinality as step(s, position))`;
}

const pendingStep = (name: StepName): JobStep => ({ name, state: 'pending', attempts: 0, startedAt: null, finishedAt: null, worker: null, error: null });

const defaultFingerprint = (job: NewJob): string => requestFingerprint(job.type, { input: job.input, callbackUrl: job.callbackUrl });
