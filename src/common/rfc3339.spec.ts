import { parseRfc3339 } from './rfc3339';

describe('parseRfc3339', () => {
  it('reads UTC and offset times, keeping the fraction for the database', () => {
    expect(parseRfc3339('2026-11-25T17:49:54.123456Z')).toEqual({ text: '2026-11-25T17:49:54.123456Z', epochMs: Date.UTC(2026, 10, 25, 17, 49, 54, 123) });
    expect(parseRfc3339('2026-11-25t19:49:54+02:00')).toEqual({ text: '2026-11-25T19:49:54+02:00', epochMs: Date.UTC(2026, 10, 25, 17, 49, 54) });
    expect(parseRfc3339('2024-02-29 00:00:00z')!.text).toBe('2024-02-29T00:00:00Z');
  });

  it.each([
    '2026-02-29T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-01-01T23:59:60Z',
    '2026-01-01T00:00:00+24:00',
    '2026-01-01T00:00:00',
    '2026-01-01',
    'yesterday',
  ])('refuses %s', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });
});
