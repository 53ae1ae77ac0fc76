import { printableText, quotedName } from './printable-text';

describe('printableText', () => {
  it('escapes control characters, bidirectional overrides and backslashes, and keeps other text', () => {
    expect(printableText('a\u0000b\u001b[31mc\u007f\u0085\n\t\\')).toBe('a\\x00b\\x1b[31mc\\x7f\\x85\\n\\t\\\\');
    expect(printableText('evil\u202eexe.txt\u2028')).toBe('evil\\u202eexe.txt\\u2028');
    expect(printableText('café/日本語/🦀')).toBe('café/日本語/🦀');
    expect(printableText('lone \ud800 surrogate')).toBe('lone \\ud800 surrogate');
  });

  it('cuts long text and says how much was left out', () => {
    expect(printableText('x'.repeat(5000))).toBe(`${'x'.repeat(200)}… (4800 more characters)`);
    expect(printableText('🦀'.repeat(10), 4)).toBe('🦀🦀🦀🦀… (6 more characters)');
  });

  it('quotes names', () => {
    expect(quotedName('say "hi"\n')).toBe('"say \\"hi\\"\\n"');
  });
});
