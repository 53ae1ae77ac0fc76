import { EventEmitter } from 'node:events';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ROUTE_ACCESS, type RouteAccess, setRequestCaller } from '../access/authorize';
import type { Caller } from '../access/caller';
import type { CallerRateLimits } from './caller-rate-limits';
import { RateLimitGuard } from './rate-limit.guard';
import { rateLimitProblems } from './rate-limit-problems';

/** The guard with a fake CallerRateLimits (the Redis side is tested against Redis in test/integration). */
describe('RateLimitGuard', () => {
  const caller = { principal: 'api-key:k1' } as Caller;
  let counted: [string, string][];
  let released: number;
  let limits: CallerRateLimits;

  beforeEach(() => {
    counted = [];
    released = 0;
    limits = {
      count: async (category: string, principal: string) => {
        counted.push([category, principal]);
        return { 'RateLimit-Policy': `"${category}";q=3;w=60`, RateLimit: `"${category}";r=2;t=60` };
      },
      takeUploadSlot: async () => () => released++,
    } as unknown as CallerRateLimits;
  });

  /** A handler declaring `access`, a request (with the caller when given) and a reply whose raw response can close. */
  const call = (access: RouteAccess | undefined, options: { withCaller?: boolean; closed?: boolean } = {}) => {
    const handler = () => undefined;
    if (access) Reflect.defineMetadata(ROUTE_ACCESS, access, handler);
    const request = { method: 'POST', url: '/v1/x' } as FastifyRequest;
    if (options.withCaller !== false) setRequestCaller(request, caller);
    const raw = Object.assign(new EventEmitter(), { closed: options.closed ?? false });
    const headers: Record<string, string> = {};
    const reply = {
      raw,
      headers(values: Record<string, string>) {
        Object.assign(headers, values);
        return reply;
      },
    } as unknown as FastifyReply;
    const context = {
      getType: () => 'http',
      getHandler: () => handler,
      getClass: () => class {},
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
    } as unknown as ExecutionContext;
    return { run: () => new RateLimitGuard(new Reflector(), limits).canActivate(context), headers, raw };
  };

  it('lets a route without a rate-limit category through uncounted', async () => {
    const { run, headers } = call({ scope: 'records:read' });
    await expect(run()).resolves.toBe(true);
    expect(counted).toEqual([]);
    expect(headers).toEqual({});
  });

  it("counts a limited route against the caller's budget of its category and answers with the RateLimit fields", async () => {
    const { run, headers } = call({ scope: 'verifications:write', rateLimit: 'verifications' });
    await expect(run()).resolves.toBe(true);
    expect(counted).toEqual([['verifications', 'api-key:k1']]);
    expect(headers).toEqual({ 'RateLimit-Policy': '"verifications";q=3;w=60', RateLimit: '"verifications";r=2;t=60' });
    expect(released).toBe(0);
  });

  it('refuses with the problem the limits give (the filter sends its headers)', async () => {
    const problem = rateLimitProblems.rateLimited('signatures', { policy: 'signatures', quota: 3, windowSeconds: 60, remaining: 0, resetMs: 5_000 });
    limits.count = async () => {
      throw problem;
    };
    await expect(call({ scope: 'signatures:write', rateLimit: 'signatures' }).run()).rejects.toBe(problem);
  });

  it('holds an upload slot until the response closes, and gives it back once', async () => {
    const { run, raw } = call({ scope: 'artifacts:write', rateLimit: 'uploads' });
    await run();
    expect(released).toBe(0);
    raw.emit('close');
    raw.emit('close');
    expect(released).toBe(1);
  });

  it('gives the slot back at once when the client went away while the guard counted', async () => {
    const { run } = call({ scope: 'artifacts:write', rateLimit: 'uploads' }, { closed: true });
    await run();
    expect(released).toBe(1);
  });

  it('takes no upload slot when the budget is spent', async () => {
    let taken = 0;
    limits.count = async () => {
      throw rateLimitProblems.unavailable();
    };
    limits.takeUploadSlot = async () => {
      taken++;
      return () => undefined;
    };
    await expect(call({ scope: 'artifacts:write', rateLimit: 'uploads' }).run()).rejects.toMatchObject({ code: 'RATE_LIMIT_UNAVAILABLE' });
    expect(taken).toBe(0);
  });

  it('fails loudly when it runs before the authentication guard (no caller on the request)', async () => {
    await expect(call({ scope: 'artifacts:write', rateLimit: 'uploads' }, { withCaller: false }).run()).rejects.toThrow(/before AuthenticationGuard/);
  });
});
