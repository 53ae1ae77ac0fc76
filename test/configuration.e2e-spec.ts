import { ServiceProcess, tempDir } from './support/service-process';

describe('configuration', () => {
  const startExpectingFailure = async (env: Record<string, string>) => {
    const service = await ServiceProcess.start({ DATA_DIR: tempDir('config'), ...env }, { waitForLive: false });
    const code = await service.exited;
    return { code, logs: service.logs };
  };

  it.each([
    [{ PORT: 'eighty' }, 'PORT: must be a whole number'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL: must be a URL with scheme redis:// or rediss://'],
    [{ ROLE: 'scheduler' }, 'ROLE: must be one of all, api, worker'],
    [{ ROLE: 'api' }, 'DATABASE_URL: required when ROLE is api'],
    [{ REDIS_URL_FILE: '/nonexistent/redis-url' }, 'REDIS_URL_FILE: cannot read /nonexistent/redis-url: ENOENT'],
    [{ SECRET_ENCRYPTION_KEYS: `k1:${Buffer.alloc(16).toString('base64')}` }, 'SECRET_ENCRYPTION_KEYS: entry 1 (key id k1): the key is 16 bytes; it must be 32'],
  ])('refuses %j, naming the variable and what is wrong', async (env, message) => {
    const { code, logs } = await startExpectingFailure(env);
    expect(code).toBe(78);
    expect(logs).toContain('invalid configuration');
    expect(logs).toContain(message);
  });

  it('lists every problem at once', async () => {
    const { code, logs } = await startExpectingFailure({ PORT: '70000', WORKER_CONCURRENCY: '0' });
    expect(code).toBe(78);
    expect(logs).toContain('PORT: must be at most 65535');
    expect(logs).toContain('WORKER_CONCURRENCY: must be at least 1');
  });
});
