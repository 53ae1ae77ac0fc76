import { Logger as NestLogger } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Logger, LoggerModule } from 'nestjs-pino';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { withLogContext } from './log-context';

describe('withLogContext', () => {
  it('gives every line logged through Nest inside it, across awaits, its bindings; lines outside keep none', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const moduleRef = await Test.createTestingModule({ imports: [LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, stream] })] }).compile();
    const app = moduleRef.createNestApplication(new FastifyAdapter(), { bufferLogs: true });
    app.useLogger(app.get(Logger));
    await app.init();
    const logger = new NestLogger('workers');
    try {
      await Promise.all([
        withLogContext({ jobId: 'job-1', step: 'push' }, async () => {
          await sleep(5);
          logger.log({ attempt: 1 }, 'inside one');
        }),
        withLogContext({ jobId: 'job-2', step: 'sign' }, async () => {
          logger.warn('inside two');
          await sleep(1);
          await withLogContext({ attempt: 2 }, async () => logger.log('nested'));
        }),
      ]);
      logger.log('outside');
    } finally {
      await app.close();
    }
    const byMessage = (msg: string) => lines.find((line) => line.msg === msg);
    expect(byMessage('inside one')).toMatchObject({ jobId: 'job-1', step: 'push', attempt: 1, context: 'workers' });
    expect(byMessage('inside two')).toMatchObject({ jobId: 'job-2', step: 'sign' });
    expect(byMessage('nested')).toMatchObject({ jobId: 'job-2', step: 'sign', attempt: 2 });
    expect(byMessage('outside')).toBeDefined();
    expect(byMessage('outside')).not.toHaveProperty('jobId');
  });
});
