import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notedAuditTarget } from '../access/audit-target';
import { requestCaller } from '../access/authorize';
import { ProblemError } from '../common/problem';
import { DATABASE_RETRY_AFTER_SECONDS } from '../database/database-outage';
import { type AuditRequest, needsEntryBeforeHandler, needsEntryForResponse, requestEntry, requestPath, responseEntry } from './audit-entry';
import { AuditLogRepository } from './audit-log.repository';
import { RouteActions } from './route-actions';

/** An audit write waits at most this long: a database that hangs holds no answer longer than this. */
export const AUDIT_WRITE_TIMEOUT_MS = 5_000;

export const auditLogUnavailable = () =>
  new ProblemError(
    503,
    'AUDIT_LOG_UNAVAILABLE',
    'The audit log is unavailable',
    'the request could not be recorded in the audit log (the database did not take the entry), so it was not carried out; retry later',
    {},
    { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) },
  );

const ENTRY_ID = Symbol('audit-entry-id');

/**
 * Writes the audit log as requests run. A mutating /v1 request gets its entry before its handler runs
 * (`recordAttempt`, from the global AuditLogInterceptor, after authentication), and its outcome when the
 * answer is sent (`recordResponse`, from an onSend hook, so it holds for answers made by any path: the
 * guard's refusals, the exception filter, Fastify's own errors). A request that only answers (its
 * route's `auditOnAnswer`: a verification) gets its one entry then, outcome included. Other /v1
 * requests get an entry only when refused (401, 403, 429), written when the answer is sent.
 *
 * Failures: fail closed before any change, carry on after. When the entry of a mutating request cannot
 * be written, the request is refused (503 AUDIT_LOG_UNAVAILABLE) and its handler never runs. When an
 * outcome or a refusal cannot be written, the error is logged with the whole entry (the log then holds
 * what the table misses) and the answer goes out: the change, if any, has happened and its entry says
 * it was attempted (outcome `pending`); failing the answer then would only make the caller retry it.
 */
@Injectable()
export class AuditLogRecorder {
  private readonly logger = new Logger('audit');

  constructor(
    private readonly entries: AuditLogRepository,
    private readonly actions: RouteActions,
  ) {}

  /** Before the handler of a mutating /v1 request; throws 503 AUDIT_LOG_UNAVAILABLE when its entry cannot be written. */
  async recordAttempt(request: FastifyRequest): Promise<void> {
    const facts = auditRequest(request);
    if (!needsEntryBeforeHandler(facts.method, facts.url, facts.route)) return;
    const entry = requestEntry(facts, this.action(facts));
    try {
      setEntryId(request, await withTimeout(this.entries.insert(entry), AUDIT_WRITE_TIMEOUT_MS));
    } catch (error) {
      this.logger.error({ err: error, requestId: request.id, auditEntry: entry }, 'could not write the audit entry of a request: refused it (503 AUDIT_LOG_UNAVAILABLE)');
      throw auditLogUnavailable();
    }
  }

  /** When the answer is sent (Fastify onSend, before it is written): the outcome. Never throws. */
  async recordResponse(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<void> {
    try {
      const facts = auditRequest(request);
      const entryId = entryIdOf(request);
      if (entryId === undefined && !needsEntryForResponse(facts.method, facts.url, facts.route, reply.statusCode)) return;
      const contentType = reply.getHeader('content-type');
      const entry = responseEntry(facts, this.action(facts), { status: reply.statusCode, contentType: typeof contentType === 'string' ? contentType : undefined, payload });
      try {
        if (entryId === undefined) await withTimeout(this.entries.insert(entry), AUDIT_WRITE_TIMEOUT_MS);
        else await withTimeout(this.entries.complete(entryId, entry), AUDIT_WRITE_TIMEOUT_MS);
      } catch (error) {
        this.logger.error(
          { err: error, requestId: request.id, auditEntryId: entryId, auditEntry: entry },
          entryId === undefined ? 'could not write the audit entry of an answered or refused request' : 'could not record the outcome of a request in its audit entry',
        );
      }
    } catch (error) {
      this.logger.error({ err: error, requestId: request.id }, 'could not derive the audit entry of a request');
    }
  }

  private action(facts: AuditRequest): string {
    return this.actions.action(facts.method, facts.route, requestPath(facts.url));
  }
}

/** The request as the audit log reads it; the caller is there once the authentication guard ran. */
function auditRequest(request: FastifyRequest): AuditRequest {
  return {
    method: request.method,
    url: request.url,
    route: request.routeOptions?.url,
    requestId: String(request.id),
    // Fastify's trustProxy is off: this is the address of the peer (a load balancer's, behind one).
    sourceAddress: request.ip ?? '',
    authorization: request.headers.authorization,
    caller: requestCaller(request),
    params: request.params,
    query: request.query,
    body: request.body,
    notedTarget: notedAuditTarget(request),
  };
}

function setEntryId(request: FastifyRequest, id: string): void {
  (request as unknown as Record<symbol, string>)[ENTRY_ID] = id;
}

function entryIdOf(request: FastifyRequest): string | undefined {
  return (request as unknown as Record<symbol, string | undefined>)[ENTRY_ID];
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the database did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
