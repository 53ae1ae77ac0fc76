/**
 * `WWW-Authenticate` challenges (RFC 9110 §11.6.1), as registries send them:
 *
 *   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"
 *
 * A header may hold several challenges, and fetch joins repeated headers with ", ", so commas separate
 * both parameters and challenges: a new challenge starts at a token that is not followed by "=".
 * Parameter values are tokens or quoted strings (whose commas belong to the value, as in the scope above).
 */

export interface AuthChallenge {
  /** Lowercased: `basic`, `bearer`, … */
  scheme: string;
  /** Parameter names lowercased. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseWwwAuthenticate(header: string | null | undefined): AuthChallenge[] {
  if (!header) return [];
  const challenges: AuthChallenge[] = [];
  let position = 0;
  const length = header.length;

  const skip = (characters: RegExp) => {
    while (position < length && characters.test(header[position]!)) position++;
  };
  const readToken = (): string => {
    const start = position;
    while (position < length && TOKEN_CHAR.test(header[position]!)) position++;
    return header.slice(start, position);
  };
  const readQuoted = (): string => {
    position++; // opening quote
    let value = '';
    while (position < length && header[position] !== '"') {
      if (header[position] === '\\' && position + 1 < length) position++;
      value += header[position];
      position++;
    }
    position++; // closing quote (or end of input)
    return value;
  };

  let current: AuthChallenge | undefined;
  while (position < length) {
    skip(/[\s,]/);
    if (position >= length) break;
    const token = readToken();
    if (token === '') {
      // Unexpected character: skip it rather than loop forever on malformed input.
      position++;
      continue;
    }
    skip(/[ \t]/);
    if (header[position] === '=' && current) {
      position++;
      skip(/[ \t]/);
      const value = header[position] === '"' ? readQuoted() : readToken();
      current.params[token.toLowerCase()] = value;
    } else {
      // A token not followed by "=" starts a new challenge. (token68 credentials, as in `Negotiate abc==`,
      // are not used by registries; they end up as harmless empty parameters.)
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}
