import { CodedError, errorCodes } from './coded-error';

describe('CodedError', () => {
  it('is permanent unless told otherwise', () => {
    const error = new CodedError('X_REFUSED', 'no');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'X_REFUSED', message: 'no', transient: false });
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('carries transient, retryAfterMs and the cause', () => {
    const cause = new Error('ECONNRESET');
    const error = new CodedError('X_UNAVAILABLE', 'busy', { transient: true, retryAfterMs: 2_000, cause });
    expect(error).toMatchObject({ code: 'X_UNAVAILABLE', transient: true, retryAfterMs: 2_000 });
    expect(error.cause).toBe(cause);
  });

  it('declares a module’s codes once, each a constant of itself', () => {
    const CODES = errorCodes('A_FAILED', 'B_FAILED');
    expect(CODES).toEqual({ A_FAILED: 'A_FAILED', B_FAILED: 'B_FAILED' });
    expect(Object.isFrozen(CODES)).toBe(true);
    const typed: CodedError<keyof typeof CODES> = new CodedError(CODES.A_FAILED, 'a');
    expect(typed.code).toBe('A_FAILED');
  });
});
