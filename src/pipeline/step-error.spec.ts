import { StepError, asStepError, retryDelayMs } from './step-error';
import { CodedError } from '../common/coded-error';
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

  it('keeps any CodedError, whatever layer threw it: its code and transient flag decide', () => {
    const permanent = new CodedError('REGISTRY_FORBIDDEN', 'denied');
    const transient = new CodedError('REKOR_UNAVAILABLE', 'busy', { transient: true, retryAfterMs: 3_000 });
    expect(asStepError(permanent)).toBe(permanent);
    expect(asStepError(transient)).toBe(transient);
    expect(retryDelayMs(1, transient, () => 1)).toBe(3_000);
  });

  it('never reads an HTTP status: a problem made for HTTP callers is unexpected in a step', () => {
    // A 404 problem is not thereby permanent: HTTP problems are made at the edge, never thrown by steps.
    expect(asStepError(new ProblemError(404, 'MANIFEST_NOT_FOUND', 'gone'))).toMatchObject({ code: 'INTERNAL_ERROR', transient: true });
  });

  it('retries anything unexpected', () => {
    expect(asStepError(new TypeError('boom'))).toMatchObject({ code: 'INTERNAL_ERROR', transient: true, message: 'boom' });
  });
});
