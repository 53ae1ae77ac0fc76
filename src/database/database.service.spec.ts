import type { LogEvent } from 'kysely';
import type { AppConfig } from '../config/config.schema';
import { classifyDriverError } from './database-outage';
import { DatabaseService, STORAGE_FULL_HOLD_MS } from './database.service';

const statement = (sql: string, error?: unknown): LogEvent =>
  (error === undefined
    ? { level: 'query', query: { sql, parameters: [] }, queryDurationMillis: 1 }
    : { level: 'error', error, query: { sql, parameters: [] }, queryDurationMillis: 1 }) as unknown as LogEvent;

// As the driver's errors reach the statement log: classified (outageAwareDialect).
const diskFull = classifyDriverError(Object.assign(new Error('could not extend file "base/5/16397": No space left on device'), { code: '53100' }));

describe('DatabaseService when writes are refused for lack of space', () => {
  afterEach(() => jest.useRealTimers());

  it('counts the storage as full from such a refusal until a write succeeds, or none was refused for a while', () => {
    jest.useFakeTimers();
    const database = new DatabaseService({ database: { kind: 'pglite' } } as unknown as AppConfig);
    database.observe(statement('insert into jobs …'));
    expect(database.storageRefusal()).toBeUndefined();

    database.observe(statement('insert into jobs …', diskFull));
    expect(database.storageRefusal()).toMatch(/out of storage: .*No space left on device/);
    // A refusal of another kind, or a read that succeeds, says nothing about the storage.
    database.observe(statement('insert into jobs …', Object.assign(new Error('duplicate key value'), { code: '23505' })));
    database.observe(statement('select * from jobs'));
    expect(database.storageRefusal()).toBeDefined();
    database.observe(statement('update jobs set …'));
    expect(database.storageRefusal()).toBeUndefined();

    database.observe(statement('insert into jobs …', diskFull));
    jest.advanceTimersByTime(STORAGE_FULL_HOLD_MS - 1);
    expect(database.storageRefusal()).toBeDefined();
    jest.advanceTimersByTime(1);
    expect(database.storageRefusal()).toBeUndefined();
  });
});
