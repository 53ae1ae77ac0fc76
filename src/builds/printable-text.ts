/**
 * Text that came from a caller's archive or a git server (an entry name, a link target, git's stderr),
 * made safe to put in an error message, a log line or a terminal: control characters (C0, DEL, C1), line
 * and paragraph separators and bidirectional overrides are escaped (`\x1b`, `\u202e`), a backslash is
 * doubled, and the text is cut after `maxChars` characters with the number of characters left out.
 */
const DEFAULT_MAX_CHARS = 200;

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\\]/gu;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function escapeCharacter(character: string): string {
  const named = NAMED[character];
  if (named) return named;
  const code = character.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with unprintable characters escaped and cut to `maxChars` characters (code points). */
export function printableText(text: string, maxChars = DEFAULT_MAX_CHARS): string {
  const characters = Array.from(text);
  const kept = characters.length > maxChars ? characters.slice(0, maxChars).join('') : text;
  const cut = characters.length > maxChars ? `… (${characters.length - maxChars} more characters)` : '';
  // A lone surrogate (possible in a JS string, not in decoded UTF-8) is escaped too.
  return kept.replace(UNPRINTABLE, escapeCharacter).replace(/[\ud800-\udfff]/gu, escapeCharacter) + cut;
}

/** An entry name or path as messages quote it: printable, between double quotes. */
export function quotedName(name: string): string {
  return `"${printableText(name).replace(/"/g, '\\"')}"`;
}
