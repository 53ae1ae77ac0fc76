// re2js (a pure-JS port of RE2, pinned exactly in package.json) runs in time linear in the input, so no
// pattern a caller sends can backtrack for minutes and freeze the event loop the way V8's RegExp does
// (`([a-z/:.-]+)+!`). It also gives RE2 semantics, which is what cosign's Go `regexp` implements, so a
// `--certificate-identity-regexp` means the same here as there. No native build is needed.
import { RE2JS } from 're2js';

/** Longest pattern accepted, in characters. */
export const MAX_REGEXP_LENGTH = 1024;
/**
 * Largest compiled program accepted, in RE2 instructions (checked on an estimate before compiling and on
 * the real program after). Compiling and matching cost grow with it: at this size both stay in the low
 * milliseconds for the values matched here. Counted repetitions (`x{n}`) multiply the size of what they
 * repeat.
 */
export const MAX_REGEXP_SIZE = 500;
/** Longest value matched: anything longer never matches (no certificate identity or issuer is this long). */
export const MAX_MATCHED_LENGTH = 2048;

/** A pattern the engine (or the limits above) refuses; `reason` names the construct, for the caller. */
export class RegExpRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RegExpRefused';
  }
}

/** A caller's regular expression that must match the whole string, compiled by RE2. */
export class WholeStringRegExp {
  private constructor(
    readonly source: string,
    private readonly compiled: RE2JS,
  ) {}

  /**
   * Compiles `^(?:source)$`. The source is parsed on its own first, so that it cannot close the group
   * and escape the anchors (`a)|(b` would otherwise become `^(?:a)|(b)$`, matching anything that starts
   * with `a`). Throws RegExpRefused.
   */
  static compile(source: string): WholeStringRegExp {
    if (source.length > MAX_REGEXP_LENGTH) throw new RegExpRefused(`the pattern has ${source.length} characters, more than the ${MAX_REGEXP_LENGTH} allowed`);
    const estimate = estimateProgramSize(source);
    if (estimate > MAX_REGEXP_SIZE) throw tooLarge(estimate);
    compileOrRefuse(source);
    const compiled = compileOrRefuse(`^(?:${source})$`);
    if (compiled.programSize() > MAX_REGEXP_SIZE) throw tooLarge(compiled.programSize());
    return new WholeStringRegExp(source, compiled);
  }

  /** Whether the whole value matches; a value longer than MAX_MATCHED_LENGTH never does. */
  test(value: string): boolean {
    return value.length <= MAX_MATCHED_LENGTH && this.compiled.test(value);
  }
}

const tooLarge = (size: number) =>
  new RegExpRefused(
    `the pattern expands to about ${size} instructions, more than the ${MAX_REGEXP_SIZE} allowed (counted repetitions such as {n} repeat what they apply to n times)`,
  );

function compileOrRefuse(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (error) {
    throw new RegExpRefused(explain((error as Error).message));
  }
}

/** RE2's message (Go's wording), with the name of the Perl/JavaScript feature RE2 leaves out when it is one. */
function explain(message: string): string {
  const reason = message.replace(/^error parsing regexp: /, '');
  const hints: [RegExp, string][] = [
    [/invalid escape sequence: `\\[1-9]/, 'backreferences'],
    [/invalid escape sequence: `\\k/, 'named backreferences'],
    [/`\(\?[=!]/, 'lookaheads'],
    [/`\(\?<[=!]/, 'lookbehinds'],
    [/invalid nested repetition operator: `[*+?}]\+/, 'possessive quantifiers'],
    [/invalid nested repetition operator/, 'nested quantifiers'],
    [/`\(\?P[=>]/, 'named backreferences'],
  ];
  const hint = hints.find(([pattern]) => pattern.test(reason));
  return hint ? `${reason} (${hint[1]} are not supported: patterns use RE2 syntax, as in cosign)` : `${reason} (patterns use RE2 syntax, as in cosign)`;
}

/**
 * An upper estimate of the compiled program's size, read from the pattern text without compiling it:
 * every atom counts one, a quantifier one more, and `{n,m}` multiplies what it repeats by its largest
 * count. RE2 expands counted repetitions when it compiles, so this is what bounds compile time.
 * Malformed text is left to the engine to refuse.
 */
export function estimateProgramSize(source: string): number {
  const frames: { total: number; last: number }[] = [{ total: 0, last: 0 }];
  const atom = (weight: number) => {
    const frame = frames[frames.length - 1]!;
    frame.total += weight;
    frame.last = weight;
  };
  let i = 0;
  while (i < source.length) {
    const char = source[i]!;
    if (char === '\\') {
      const next = source[i + 1];
      i += 2;
      if ((next === 'p' || next === 'P' || next === 'x') && source[i] === '{') i = skipPast(source, i, '}');
      else if (next === 'p' || next === 'P') i += 1; // \pL
      atom(1);
    } else if (char === '[') {
      i = skipClass(source, i + 1);
      atom(1);
    } else if (char === '(') {
      // `(?:`, `(?i:`, `(?P<name>`, `(?<name>` open a group; `(?i)` only sets flags.
      const prefix = source[i + 1] === '?' ? /^\(\?(?:P?<[^>]*>|[A-Za-z-]*:|[A-Za-z-]*\))/.exec(source.slice(i, i + 256)) : null;
      i += prefix ? prefix[0].length : 1;
      if (!prefix?.[0].endsWith(')')) frames.push({ total: 0, last: 0 });
    } else if (char === ')') {
      const group = frames.length > 1 ? frames.pop()! : { total: 0, last: 0 };
      atom(group.total + 1);
      i += 1;
    } else if (char === '*' || char === '+' || char === '?') {
      const frame = frames[frames.length - 1]!;
      frame.total += 1;
      i += 1;
    } else if (char === '{') {
      const repeat = /^\{(\d+)(?:(,)(\d*))?\}/.exec(source.slice(i, i + 24));
      if (repeat) {
        const count = Math.max(Number(repeat[1]), repeat[3] ? Number(repeat[3]) : 0) + (repeat[2] && !repeat[3] ? 1 : 0);
        const frame = frames[frames.length - 1]!;
        frame.total += frame.last * (count - 1) + 1;
        frame.last *= count;
        i += repeat[0].length;
      } else {
        atom(1);
        i += 1;
      }
    } else {
      atom(1);
      i += 1;
    }
  }
  while (frames.length > 1) atom(frames.pop()!.total);
  return frames[0]!.total;
}

function skipPast(source: string, from: number, close: string): number {
  const end = source.indexOf(close, from);
  return end < 0 ? source.length : end + 1;
}

/** Index after the `]` closing a character class whose body starts at `from`. */
function skipClass(source: string, from: number): number {
  let i = from;
  if (source[i] === '^') i += 1;
  if (source[i] === ']') i += 1; // a leading `]` is a literal
  while (i < source.length && source[i] !== ']') {
    if (source[i] === '\\') {
      const next = source[i + 1];
      i += 2;
      if ((next === 'p' || next === 'P' || next === 'x') && source[i] === '{') i = skipPast(source, i, '}');
    } else if (source.startsWith('[:', i)) {
      i = skipPast(source, i + 2, ':]') + 1;
    } else {
      i += 1;
    }
  }
  return i + 1;
}
