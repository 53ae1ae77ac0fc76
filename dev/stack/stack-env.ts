import { readFile } from 'node:fs/promises';

/**
 * stack.env: KEY=VALUE lines (dotenv-compatible) that point the service at the local stack.
 * Values made of safe characters are written bare, anything else as a JSON double-quoted string.
 */
export function formatStackEnv(env: Readonly<Record<string, string>>, header: readonly string[] = []): string {
  const lines = header.map((line) => `# ${line}`);
  for (const [key, value] of Object.entries(env)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`invalid environment variable name "${key}"`);
    lines.push(`${key}=${/^[\w@%+=:,./-]*$/.test(value) ? value : JSON.stringify(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Parses KEY=VALUE lines: blank lines and `#` comments are skipped, an `export ` prefix is allowed,
 * values may be bare (trailing ` # comment` removed), 'single-quoted' (literal) or "double-quoted"
 * (JSON escapes). Later keys win.
 */
export function parseStackEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [i, rawLine] of text.split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new Error(`stack.env line ${i + 1} is not KEY=VALUE: ${rawLine}`);
    const [, key, rest] = match as unknown as [string, string, string];
    env[key] = parseValue(rest, i + 1);
  }
  return env;
}

export async function readStackEnv(file: string): Promise<Record<string, string>> {
  return parseStackEnv(await readFile(file, 'utf8'));
}

function parseValue(raw: string, lineNumber: number): string {
  if (raw.startsWith('"')) {
    const end = closingQuote(raw);
    if (end < 0) throw new Error(`stack.env line ${lineNumber}: unterminated double-quoted value`);
    try {
      return JSON.parse(raw.slice(0, end + 1)) as string;
    } catch {
      throw new Error(`stack.env line ${lineNumber}: invalid escape in double-quoted value`);
    }
  }
  if (raw.startsWith("'")) {
    const end = raw.indexOf("'", 1);
    if (end < 0) throw new Error(`stack.env line ${lineNumber}: unterminated single-quoted value`);
    return raw.slice(1, end);
  }
  return raw.replace(/\s+#.*$/, '').trim();
}

function closingQuote(raw: string): number {
  for (let i = 1; i < raw.length; i++) {
    if (raw[i] === '\\') i++;
    else if (raw[i] === '"') return i;
  }
  return -1;
}
