import { RE2JS } from 're2js';

/**
 * Where a caller may push, sign, build and verify: patterns over repository names `host[:port]/path`.
 * `*` stands for any characters within one path component (never `/`), `**` for any characters across
 * components; `**` alone is every repository. `ghcr.io/my-org/app` and `ghcr.io/my-org/app/**` together
 * allow that repository and everything under it.
 *
 * Names are compared in canonical form (the registry library's `canonicalRepositoryName`): the host
 * lower-cased and a `:443` port dropped (HTTPS's own), the path exactly as distribution's grammar allows
 * it (lower case, no `.` or `..` components: the reference parser refuses those before a name gets here).
 * So `EXAMPLE.com:443/a` is `example.com/a`, and `example.com/a/../b` never names `example.com/b`.
 * Patterns are written in the same form (their host is lower-cased and loses `:443` when parsed).
 *
 * Written here rather than with a glob library: the syntax is two tokens. Patterns compile to RE2
 * expressions (`re2js`, linear time): with a backtracking engine a pattern such as `h/**a**a**a…`
 * takes time polynomial in the name, with as many factors as it has wildcards.
 */

const PATTERN_CHARACTERS = /^[a-z0-9._\-:/*[\]]+$/;
const MAX_PATTERN_LENGTH = 255;
export const MAX_REPOSITORY_PATTERNS = 64;

export class InvalidRepositoryPatternError extends Error {
  readonly code = 'INVALID_REPOSITORY_PATTERN';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRepositoryPatternError';
  }
}

function compile(pattern: string): RE2JS {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (char === '*') source += '[^/]*';
    else source += char.replace(/[.[\]\\-]/g, '\\$&');
  }
  return RE2JS.compile(`^(?:${source})$`);
}

/** Checks one pattern's syntax; returns it in canonical form (host part lower-cased, `:443` dropped). */
export function parseRepositoryPattern(input: string): string {
  const pattern = input.trim();
  if (pattern === '**') return pattern;
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) throw new InvalidRepositoryPatternError(`a repository pattern has 1-${MAX_PATTERN_LENGTH} characters`);
  const slash = pattern.indexOf('/');
  if (slash <= 0 || slash === pattern.length - 1) {
    throw new InvalidRepositoryPatternError(`${JSON.stringify(pattern)} must be host[:port]/path (for example ghcr.io/my-org/app/**)`);
  }
  const host = pattern.slice(0, slash).toLowerCase().replace(/:443$/, '');
  const path = pattern.slice(slash + 1);
  const canonical = `${host}/${path}`;
  if (!PATTERN_CHARACTERS.test(canonical)) {
    throw new InvalidRepositoryPatternError(`${JSON.stringify(pattern)} may hold only lower-case letters, digits, . _ - : / [ ] and the wildcards * and **`);
  }
  if (/\*{3,}/.test(canonical)) throw new InvalidRepositoryPatternError(`${JSON.stringify(pattern)}: use * (one component) or ** (any depth), not ***`);
  if (path.split('/').some((component) => component === '' || component === '.' || component === '..')) {
    throw new InvalidRepositoryPatternError(`${JSON.stringify(pattern)} has an empty, "." or ".." path component`);
  }
  return canonical;
}

/** A caller's repository patterns, compiled once. */
export class RepositoryPatterns {
  private readonly matchers: RE2JS[];

  private constructor(readonly patterns: readonly string[]) {
    this.matchers = patterns.map(compile);
  }

  /** Every repository (admins, the bootstrap key). */
  static readonly ANY = new RepositoryPatterns(['**']);

  /** Parses and checks each pattern; throws InvalidRepositoryPatternError naming the first bad one. */
  static parse(patterns: readonly string[]): RepositoryPatterns {
    if (patterns.length > MAX_REPOSITORY_PATTERNS) throw new InvalidRepositoryPatternError(`at most ${MAX_REPOSITORY_PATTERNS} repository patterns`);
    return new RepositoryPatterns([...new Set(patterns.map(parseRepositoryPattern))]);
  }

  /** Whether a repository, by its canonical name (`canonicalRepositoryName`), is allowed. */
  allows(name: string): boolean {
    return this.matchers.some((matcher) => matcher.test(name));
  }
}
