import { MAX_MATCHED_LENGTH, MAX_REGEXP_SIZE, RegExpRefused, WholeStringRegExp, estimateProgramSize } from './caller-regexp';

const IDENTITY = 'https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main';

const refusal = (source: string) => {
  try {
    WholeStringRegExp.compile(source);
  } catch (error) {
    if (error instanceof RegExpRefused) return error.reason;
    throw error;
  }
  throw new Error(`expected ${source} to be refused`);
};

describe('WholeStringRegExp', () => {
  it('matches the whole string only', () => {
    const regexp = WholeStringRegExp.compile('https://github\\.com/org/.*');
    expect(regexp.test(IDENTITY)).toBe(true);
    expect(regexp.test(`evil:${IDENTITY}`)).toBe(false);
    expect(WholeStringRegExp.compile('github\\.com/org').test(IDENTITY)).toBe(false);
    // `$` is the end of the text, not the end of a line.
    expect(WholeStringRegExp.compile('a').test('a\n')).toBe(false);
    expect(WholeStringRegExp.compile('(?m)a$').test('a\nb')).toBe(false);
  });

  it('keeps an alternation inside the anchors', () => {
    const regexp = WholeStringRegExp.compile('a|b');
    expect(['a', 'b'].map((s) => regexp.test(s))).toEqual([true, true]);
    expect(['ab', 'xa', 'bx'].map((s) => regexp.test(s))).toEqual([false, false, false]);
  });

  it('refuses a pattern that would close the group and escape the anchors', () => {
    // `^(?:a)|(b)$` would compile and match anything starting with "a".
    expect(refusal('a)|(b')).toMatch(/unexpected \)/);
    expect(refusal('(unclosed')).toMatch(/missing closing \)/);
  });

  it('matches a pattern that backtracks catastrophically in V8 in linear time', () => {
    const regexp = WholeStringRegExp.compile('([a-z/:.-]+)+!');
    const value = 'https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer'.repeat(20).slice(0, MAX_MATCHED_LENGTH);
    const started = performance.now();
    expect(regexp.test(value)).toBe(false);
    // V8 needs longer than the age of the universe for this; RE2 a few milliseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reads RE2 syntax: named groups, Unicode classes, inline flags', () => {
    expect(WholeStringRegExp.compile('(?P<org>[a-z]+)/\\pL+').test('org/repö')).toBe(true);
    expect(WholeStringRegExp.compile('(?i)HTTPS://GITHUB\\.COM/.*').test(IDENTITY)).toBe(true);
  });

  it.each([
    ['a backreference', '(a)\\1', /invalid escape sequence: `\\1`.*backreferences are not supported/],
    ['a lookahead', '(?=x)x', /`\(\?=`.*lookahead/],
    ['a negative lookahead', '(?!x).*', /`\(\?!`.*lookahead/],
    ['a lookbehind', '(?<=x)y', /lookbehind/],
    ['a possessive quantifier', 'a*+', /`\*\+`.*possessive quantifiers/],
    ['a repeat range backwards', 'a{2,1}', /invalid repeat count/],
    ['\\Z', 'a\\Z', /invalid escape sequence: `\\Z`/],
  ])('refuses %s, naming it', (_what, source, reason) => {
    expect(refusal(source)).toMatch(reason);
  });

  it('refuses patterns whose compiled program is too large, before compiling them', () => {
    expect(refusal('.{1000}')).toMatch(new RegExp(`more than the ${MAX_REGEXP_SIZE} allowed`));
    expect(refusal('(?:(?:\\pL?){10}){40}')).toMatch(/instructions/);
    expect(refusal('a'.repeat(1025))).toMatch(/1025 characters/);
    expect(() => WholeStringRegExp.compile('[0-9a-f]{40}')).not.toThrow();
  });

  it('does not match values over the length limit', () => {
    const regexp = WholeStringRegExp.compile('a*');
    expect(regexp.test('a'.repeat(MAX_MATCHED_LENGTH))).toBe(true);
    expect(regexp.test('a'.repeat(MAX_MATCHED_LENGTH + 1))).toBe(false);
  });
});

describe('estimateProgramSize', () => {
  it.each([
    ['abc', 3],
    ['a{10}', 11],
    ['(?:ab){10}', 31],
    ['(?:(?:a){10}){10}', 221],
    ['(?i)a(?P<x>b)', 3],
    ['[a-z{]{5}', 6],
    ['\\p{Greek}{5}', 6],
    ['a{,3}', 5],
  ])('%s is about %d', (source, size) => {
    expect(estimateProgramSize(source)).toBe(size);
  });

  it('is never below the real program size for patterns near the limit', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { RE2JS } = require('re2js') as typeof import('re2js');
    for (const source of ['a{400}', '(?:\\pL?){150}', '(?:a|b|c){100}', '[a-z]{10}(?:x{20}){10}', '(?i)k{300}']) {
      expect(estimateProgramSize(source)).toBeGreaterThanOrEqual(RE2JS.compile(source).programSize() - 4);
    }
  });
});
