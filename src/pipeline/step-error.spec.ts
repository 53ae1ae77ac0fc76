import { StepError, asStepError, retryDelayMs } from './step-error';
import { ProblemError } from '../common/problem';

describe('retryDelayMs', () => {
  it('grows exponentially with full jitter between half and all of the ceiling', () => {
    expect(retryDelayMs(1, new Error('x'), () => 0)).toBe(500);
    expect(retryDelayMs(1, new Error('x'), () => 1)).toBe(1_000);
    expect(retryDelayMs(4, new Error('x'), () => 1)).toBe(8_000);
    expect(retryDelayMs(4, new Error('x'), () => 0)).toBe(4_000);
  });

  it('starts from the configured base (STEP_RETRY_BASE_MS)', () => {
    expect(retryDelayMs(1, new Error('x'), () => 1, 50)).toBe(50);
    expect(retryDelayMs(3, new Error('x'), () => 0, 50)).toBe(100);
  });

  it('is capped at one minute', () => {
    expect(retryDelayMs(30, new Error('x'), () => 1)).toBe(60_000);
  });

  it("honours the server's Retry-After", () => {
    expect(retryDelayMs(1, StepError.transient('REGISTRY_THROTTLED', '429', 7_000), () => 1)).toBe(7_000);
  });

  it('bounds a Retry-After that is absurdly long', () => {
    expect(retryDelayMs(1, StepError.transient('REGISTRY_THROTTLED', '429', 86_400_000))).toBe(600_000);
  });
});

describe('asStepError', () => {
  it('keeps a StepError', () => {
    const error = StepError.permanent('X', 'x');
    expect(asStepError(error)).toBe(error);
  });

  it('turns a 5xx problem into a transient error and a 4xx one into a permanent error, keeping the code', () => {
    expect(asStepError(new ProblemError(503, 'TRUST_ROOT_UNAVAILABLE', 'down', 'tuf'))).toMatchObject({ code: 'TRUST_ROOT_UNAVAILABLE', transient: true, message: 'tuf' });
    expect(asStepError(new ProblemError(404, 'MANIFEST_NOT_FOUND', 'gone'))).toMatchObject({ code: 'MANIFEST_NOT_FOUND', transient: false, message: 'gone' });
  });

  it('retries anything unexpected', () => {
    expect(asStepError(new TypeError('boom'))).toMatchObject({ code: 'INTERNAL_ERROR', transient: true, message: 'boom' });
  });
});
