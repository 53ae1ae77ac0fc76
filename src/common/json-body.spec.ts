import { jsonDepthExceeds } from './json-body';

describe('jsonDepthExceeds', () => {
  it.each([
    ['a scalar', '1', 0, false],
    ['an empty object at depth 1', '{}', 1, false],
    ['an empty object over depth 0', '{}', 0, true],
    ['arrays nested to the limit', '['.repeat(64) + ']'.repeat(64), 64, false],
    ['arrays nested past the limit', '['.repeat(65) + ']'.repeat(65), 64, true],
    ['objects nested past the limit', '{"a":'.repeat(65) + '1' + '}'.repeat(65), 64, true],
    ['siblings, not nesting', '[' + '[],'.repeat(1000) + '[]]', 2, false],
    ['brackets inside strings', JSON.stringify({ a: '[[[[[[{{{{{' }), 1, false],
    ['escaped quotes inside strings', JSON.stringify({ a: '\\"[[[[', b: '"{{{{' }), 1, false],
  ])('%s', (_what, text, max, expected) => {
    expect(jsonDepthExceeds(text, max)).toBe(expected);
  });

  it('reads a deep document without recursion', () => {
    expect(jsonDepthExceeds('['.repeat(1_000_000) + ']'.repeat(1_000_000), 64)).toBe(true);
  });
});
