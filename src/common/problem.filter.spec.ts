import { type ArgumentsHost, HttpException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { ProblemError } from './problem';
import { ProblemFilter, toProblem } from './problem.filter';

describe('toProblem', () => {
  it('keeps our own problems as they are', () => {
    const problem = new ProblemError(409, 'IDEMPOTENCY_KEY_REUSED', 'reused');
    expect(toProblem(problem)).toBe(problem);
  });

  it('gives Nest HTTP exceptions a stable code', () => {
    expect(toProblem(new NotFoundException('Cannot GET /nope')).toDocument('/nope')).toEqual({
      type: 'https://wasm-signer.dev/problems/not-found',
      title: 'No such resource',
      status: 404,
      code: 'NOT_FOUND',
      detail: 'Cannot GET /nope',
      instance: '/nope',
    });
  });

  it('maps Fastify body errors', () => {
    expect(toProblem(Object.assign(new Error('too big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(toProblem(Object.assign(new Error('bad'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }))).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('keeps the dependency states of a failed health check', () => {
    const details = { redis: { status: 'down', message: 'no answer' }, database: { status: 'up' } };
    const problem = toProblem(new ServiceUnavailableException({ status: 'error', info: { database: details.database }, error: { redis: details.redis }, details }));
    expect(problem.toDocument()).toMatchObject({ status: 503, code: 'NOT_READY', detail: 'unavailable: redis', details });
  });

  it('never leaks the message of an unexpected error', () => {
    const document = toProblem(new TypeError('secret internals')).toDocument();
    expect(document).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
    expect(JSON.stringify(document)).not.toContain('secret internals');
  });
});

describe('toProblem on JSON body errors wrapped by Nest', () => {
  it('recognises invalid and empty JSON bodies', () => {
    expect(toProblem(new HttpException("Body is not valid JSON but content-type is set to 'application/json'", 400))).toMatchObject({ code: 'MALFORMED_JSON' });
    expect(toProblem(new HttpException("Body cannot be empty when content-type is set to 'application/json'", 400))).toMatchObject({ code: 'MALFORMED_JSON' });
  });
});

describe('ProblemFilter mappers', () => {
  it('answers an error of a lower layer with the problem its mapper gives, and anything else as before', () => {
    class LayerError extends Error {}
    const sent: { status?: number; body?: Record<string, unknown>; headers?: Record<string, string> } = {};
    const reply = {
      sent: false,
      status(code: number) {
        sent.status = code;
        sent.headers = {};
        return reply;
      },
      headers(values: Record<string, string>) {
        Object.assign(sent.headers!, values);
        return reply;
      },
      header(name: string, value: string) {
        sent.headers![name] = value;
        return reply;
      },
      send(body: Record<string, unknown>) {
        sent.body = body;
        return reply;
      },
    };
    const host = { switchToHttp: () => ({ getRequest: () => ({ id: 'r1', url: '/v1/x' }), getResponse: () => reply }) } as unknown as ArgumentsHost;
    const filter = new ProblemFilter([(error) => (error instanceof LayerError ? new ProblemError(503, 'LAYER_DOWN', 'down', undefined, {}, { 'Retry-After': '7' }) : undefined)]);
    filter.catch(new LayerError('x'), host);
    expect(sent).toMatchObject({ status: 503, body: { code: 'LAYER_DOWN' }, headers: { 'Retry-After': '7', 'content-type': 'application/problem+json' } });
    filter.catch(new Error('secret detail'), host);
    expect(sent).toMatchObject({ status: 500, body: { code: 'INTERNAL_ERROR' } });
  });
});
