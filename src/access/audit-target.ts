import type { FastifyRequest } from 'fastify';

/**
 * What a request acts on, told to the audit log by a route that reads it where the log cannot: the
 * fields of a multipart upload are read while its file streams, after the log's entry was written.
 * The log reads JSON bodies, query parameters and route parameters by itself.
 */
export interface NotedAuditTarget {
  /** `host[:port]/path`, as the caller gave it. */
  repository?: string;
  /** A tag or digest reference, as the caller gave it. */
  reference?: string;
}

const NOTED_TARGET = Symbol('audit-target');

export function noteAuditTarget(request: FastifyRequest, target: NotedAuditTarget): void {
  (request as unknown as Record<symbol, NotedAuditTarget>)[NOTED_TARGET] = target;
}

export function notedAuditTarget(request: FastifyRequest): NotedAuditTarget | undefined {
  return (request as unknown as Record<symbol, NotedAuditTarget | undefined>)[NOTED_TARGET];
}
