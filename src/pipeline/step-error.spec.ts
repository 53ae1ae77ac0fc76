import { StepError, retryDelayMs } from './step-error';

describe('retryDelayMs', () => {
  it('grows exponentially with full jitter between half and all of the ceiling', () => {
    expect(retryDelayMs(1, new Error('x'), () => 0)).toBe(500);
    expect(retryDelayMs(1, new Error('x'), () => 1)).toBe(1_000);
    expect(retryDelayMs(4, new Error('x'), () => 1)).toBe(8_000);
    expect(retryDelayMs(4, new Error('x'), () => 0)).toBe(4_000);
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
