import { ProblemError } from '../common/problem';
import { auditFilter } from './audit-log.controller';
import { ROUTE_FILTER } from './audit-log.dto';
import { routePattern } from './controller-routes';

describe('GET /v1/audit filters', () => {
  it('reads a route with or without its method', () => {
    expect(auditFilter({ route: 'DELETE /v1/api-keys/:id' })).toMatchObject({ method: 'DELETE', route: '/v1/api-keys/:id' });
    expect(auditFilter({ route: '/v1/artifacts' })).toMatchObject({ method: undefined, route: '/v1/artifacts' });
    expect(ROUTE_FILTER.test('FETCH /v1/artifacts')).toBe(false);
    expect(ROUTE_FILTER.test('POST  /v1/artifacts')).toBe(false);
    expect(ROUTE_FILTER.test(`/${'a'.repeat(300)}`)).toBe(false);
  });

  it('passes times on as RFC 3339 text (microseconds kept) and refuses what is not one, or since after until', () => {
    expect(auditFilter({ since: '2026-12-01T10:00:00.123456+01:00', until: '2026-12-02T00:00:00Z' })).toMatchObject({
      since: '2026-12-01T10:00:00.123456+01:00',
      until: '2026-12-02T00:00:00Z',
    });
    const refusal = (query: Parameters<typeof auditFilter>[0]) => {
      try {
        auditFilter(query);
      } catch (error) {
        return error instanceof ProblemError ? { status: error.status, code: error.code, detail: error.detail } : error;
      }
      return undefined;
    };
    expect(refusal({ since: 'yesterday' })).toEqual({ status: 400, code: 'VALIDATION_FAILED', detail: expect.stringContaining('since: must be an RFC 3339 date-time') });
    expect(refusal({ since: '2026-02-30T00:00:00Z' })).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(refusal({ since: '2026-12-02T00:00:00Z', until: '2026-12-01T00:00:00Z' })).toEqual({
      status: 400,
      code: 'VALIDATION_FAILED',
      detail: 'since: must not be after until',
    });
  });
});

describe('routePattern', () => {
  it('joins controller and handler paths as Nest registers them', () => {
    expect(routePattern('v1/api-keys', ':id')).toBe('/v1/api-keys/:id');
    expect(routePattern('/v1/audit/', '/')).toBe('/v1/audit');
    expect(routePattern('v1/webhooks', ':id/deliveries/:deliveryId/redeliver')).toBe('/v1/webhooks/:id/deliveries/:deliveryId/redeliver');
    expect(routePattern('/', '/')).toBe('/');
  });
});
