import { randomUUID } from 'node:crypto';
import { ServiceProcess, eventually } from './support/service-process';
import { TcpProxy } from './support/tcp-proxy';
import { TestDatabase } from './support/test-database';
import { testEnvironment } from './support/test-environment';

/** Readiness follows Redis and the database: red while either is unreachable, green again after. */
describe('/health/ready', () => {
  const env = testEnvironment();
  let database: TestDatabase;
  let redisProxy: TcpProxy;
  let postgresProxy: TcpProxy;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await TestDatabase.create(env.postgresServerUrl);
    const redis = new URL(env.redisUrl);
    redisProxy = await TcpProxy.start(redis.hostname, Number(redis.port || 6379));
    const postgres = new URL(database.url);
    postgresProxy = await TcpProxy.start(postgres.hostname, Number(postgres.port || 5432));
    const viaProxy = new URL(database.url);
    viaProxy.port = String(postgresProxy.port);
    service = await ServiceProcess.start({
      DATABASE_URL: viaProxy.toString(),
      REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
      QUEUE_PREFIX: `test-${randomUUID().slice(0, 8)}`,
    });
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    await redisProxy?.close();
    await postgresProxy?.close();
    await database?.drop();
  });

  const readiness = async () => {
    const response = await service.fetch('/health/ready');
    return { status: response.status, body: (await response.json()) as { details: Record<string, { status: string; message?: string }> } };
  };
  const untilStatus = (status: number) =>
    eventually(
      async () => {
        const current = await readiness();
        return current.status === status ? current : undefined;
      },
      15_000,
      `readiness ${status}`,
    );

  it('is green with both up', async () => {
    const { body } = await untilStatus(200);
    expect(body.details).toMatchObject({ redis: { status: 'up' }, database: { status: 'up' } });
  });

  it('goes red when Redis is down, and green again when it is back', async () => {
    redisProxy.cut();
    const { body } = await untilStatus(503);
    expect(body.details.redis!.status).toBe('down');
    expect(body.details.database!.status).toBe('up');

    // Producers fail fast: a job request is refused at once with a problem, not left hanging.
    const started = Date.now();
    const refused = await service.fetch('/v1/probes', { method: 'POST' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(((await refused.json()) as { code: string }).code).toBe('QUEUE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5_000);
    // Refused means not recorded: nothing is left for the sweeper to run later.
    expect(await database.query('select id from jobs')).toEqual([]);

    redisProxy.restore();
    await untilStatus(200);
  });

  it('goes red when the database is down, and green again when it is back', async () => {
    postgresProxy.cut();
    const { body } = await untilStatus(503);
    expect(body.details.database!.status).toBe('down');
    expect(body.details.redis!.status).toBe('up');
    postgresProxy.restore();
    await untilStatus(200);
  });
});
