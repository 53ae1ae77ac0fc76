import { rateLimitedFields, rateLimitFields, secondsUntil } from './rate-limit-headers';
import { rateLimitProblems } from './rate-limit-problems';

describe('rate-limit fields', () => {
  const uploads = { policy: 'uploads', quota: 60, windowSeconds: 60, remaining: 59, resetMs: 41_200 };

  it('names the policy as a structured-field string with its quota and window, and what is left of it', () => {
    expect(rateLimitFields(uploads)).toEqual({ 'RateLimit-Policy': '"uploads";q=60;w=60', RateLimit: '"uploads";r=59;t=42' });
  });

  it('rounds the time to reset up to whole seconds, never below 1', () => {
    expect(secondsUntil(16_001)).toBe(17);
    expect(secondsUntil(17_000)).toBe(17);
    expect(secondsUntil(0)).toBe(1);
    expect(secondsUntil(-5)).toBe(1);
    expect(rateLimitFields({ ...uploads, resetMs: 1 }).RateLimit).toBe('"uploads";r=59;t=1');
  });

  it('never reports a negative count', () => {
    expect(rateLimitFields({ ...uploads, remaining: -3 }).RateLimit).toBe('"uploads";r=0;t=42');
  });

  it('escapes quotes and backslashes in a policy name, and refuses what a structured string cannot hold', () => {
    expect(rateLimitFields({ ...uploads, policy: 'a"b\\c' })['RateLimit-Policy']).toBe('"a\\"b\\\\c";q=60;w=60');
    expect(() => rateLimitFields({ ...uploads, policy: 'naïve' })).toThrow(/printable ASCII/);
  });

  it('on a refusal: Retry-After in seconds, and nothing left', () => {
    expect(rateLimitedFields({ ...uploads, remaining: 0, resetMs: 16_500 })).toEqual({
      'Retry-After': '17',
      'RateLimit-Policy': '"uploads";q=60;w=60',
      RateLimit: '"uploads";r=0;t=17',
    });
  });
});

describe('rate-limit problems', () => {
  it('RATE_LIMITED names the category and the limit, and carries the fields', () => {
    const problem = rateLimitProblems.rateLimited('verifications', { policy: 'verifications', quota: 3, windowSeconds: 60, remaining: 0, resetMs: 12_300 });
    expect(problem.toDocument('/v1/verifications', 'r1')).toEqual({
      type: 'https://wasm-signer.dev/problems/rate-limited',
      title: 'Too many requests',
      status: 429,
      code: 'RATE_LIMITED',
      detail: "this caller's verifications budget of 3 requests per 60 s is spent; retry in 13 s",
      instance: '/v1/verifications',
      requestId: 'r1',
      category: 'verifications',
      limit: 3,
      windowSeconds: 60,
      retryAfterSeconds: 13,
    });
    expect(problem.headers).toEqual({ 'Retry-After': '13', 'RateLimit-Policy': '"verifications";q=3;w=60', RateLimit: '"verifications";r=0;t=13' });
  });

  it('TOO_MANY_CONCURRENT_UPLOADS names the cap and asks to retry later', () => {
    const problem = rateLimitProblems.tooManyConcurrentUploads(4);
    expect(problem).toMatchObject({ status: 429, code: 'TOO_MANY_CONCURRENT_UPLOADS', detail: expect.stringContaining('at most 4 uploads in progress at once') });
    expect(problem.headers).toEqual({ 'Retry-After': '5' });
  });

  it('RATE_LIMIT_UNAVAILABLE is a 503 naming Redis', () => {
    expect(rateLimitProblems.unavailable()).toMatchObject({ status: 503, code: 'RATE_LIMIT_UNAVAILABLE', detail: expect.stringContaining('Redis') });
  });
});
