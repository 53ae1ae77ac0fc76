import { DatabaseOutageError, classifyDriverError, databaseOutage, databaseOutageProblem } from './database-outage';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('classifyDriverError', () => {
  it('reads a lost or refused connection as DATABASE_UNAVAILABLE, also when wrapped or one of several', () => {
    expect(classifyDriverError(new Error('Connection terminated unexpectedly'))?.code).toBe('DATABASE_UNAVAILABLE');
    expect(classifyDriverError(withCode('read ECONNRESET', 'ECONNRESET'))?.code).toBe('DATABASE_UNAVAILABLE');
    expect(classifyDriverError(withCode('the database system is shutting down', '57P03'))?.code).toBe('DATABASE_UNAVAILABLE');
    expect(classifyDriverError(new Error('signature record not written', { cause: new Error('timeout exceeded when trying to connect') }))?.code).toBe('DATABASE_UNAVAILABLE');
    expect(classifyDriverError(new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], ''))?.code).toBe('DATABASE_UNAVAILABLE');
  });

  it('reads a full disk as DATABASE_STORAGE_FULL', () => {
    expect(classifyDriverError(withCode('could not extend file "base/5/16384": No space left on device', '53100'))?.code).toBe('DATABASE_STORAGE_FULL');
    expect(classifyDriverError(withCode('ENOSPC: no space left on device, write', 'ENOSPC'))?.code).toBe('DATABASE_STORAGE_FULL');
  });

  it('leaves alone what the database said about the statement itself', () => {
    expect(classifyDriverError(withCode('duplicate key value violates unique constraint "jobs_pkey"', '23505'))).toBeUndefined();
    expect(classifyDriverError(withCode('syntax error at or near "selct"', '42601'))).toBeUndefined();
    expect(classifyDriverError(new Error('job 1 does not exist'))).toBeUndefined();
    expect(classifyDriverError(undefined)).toBeUndefined();
  });

  it('is found behind an error that wraps it; a refused connection that did not come from the driver is no database outage', () => {
    const outage = classifyDriverError(new Error('Connection terminated unexpectedly'))!;
    expect(databaseOutage(new Error('signature record not written', { cause: outage }))).toBe(outage);
    expect(databaseOutage(new Error('fetch failed', { cause: withCode('connect ECONNREFUSED 127.0.0.1:5000', 'ECONNREFUSED') }))).toBeUndefined();
  });

  it('is transient, and answers 503 with its code and a Retry-After', () => {
    const outage = classifyDriverError(new Error('Connection terminated unexpectedly'))!;
    expect(outage).toBeInstanceOf(DatabaseOutageError);
    expect(outage.transient).toBe(true);
    const problem = databaseOutageProblem(new Error('wrapped', { cause: outage }))!;
    expect([problem.status, problem.code, Number(problem.headers['Retry-After'])]).toEqual([503, 'DATABASE_UNAVAILABLE', 5]);
    expect(databaseOutageProblem(new Error('unrelated'))).toBeUndefined();
  });
});
