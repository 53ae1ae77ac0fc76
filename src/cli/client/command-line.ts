import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './exit-codes';

/** Where the service listens unless --url or WASM_SIGNER_URL says otherwise (what `npm run dev` starts). */
export const DEFAULT_URL = 'http://127.0.0.1:3000';

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** A command of the table: its words (`jobs get`), help, options and positional arguments. */
export interface CommandSpec<Context = unknown> {
  words: string[];
  usage: string;
  summary: string;
  /** The command's options, one per line, as its --help shows them. */
  optionsHelp?: string;
  options: ParseArgsOptionsConfig;
  /** Names of the positional arguments, each required. */
  positionals: string[];
  /** Whether arguments after `--` are taken (passed on, as `run` does). */
  passThrough?: boolean;
  /** Checks across options that parseArgs cannot express; throws UsageError. */
  check?: (values: OptionValues) => void;
  run: (context: Context, invocation: Invocation) => Promise<number>;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
  audience: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const GLOBAL_HELP = `Options of every command:
  --url URL            the service (default: $WASM_SIGNER_URL, else ${DEFAULT_URL})
  -o, --output FORMAT  text (default) or json: the final job or answer as JSON on stdout, nothing else
  --timeout SECONDS    time limit of each request to the service (default 60)
  --audience AUD       audience of the GitHub Actions OIDC token (default: $WASM_SIGNER_AUDIENCE, else wasm-signer)
  -h, --help           this help

Credentials: WASM_SIGNER_TOKEN (an API key or an OIDC token); in GitHub Actions without it, the job's
OIDC token for the audience (the job needs "permissions: id-token: write").
Exit status: 0 done, 1 job or verification failed or request refused, 2 bad usage, 3 service unreachable.`;

export interface GlobalSettings {
  url: string;
  output: 'text' | 'json';
  timeoutMs: number;
  audience: string;
}

export interface Invocation {
  spec: CommandSpec<never>;
  values: OptionValues;
  positionals: string[];
  passThrough: string[];
  settings: GlobalSettings;
}

export type Parsed = { kind: 'help'; text: string } | { kind: 'command'; invocation: Invocation };

/** Reads the command line against the command table; bad usage throws UsageError (exit 2). */
export function parseCommandLine(argv: string[], table: readonly CommandSpec<never>[], env: NodeJS.ProcessEnv): Parsed {
  const terminator = argv.indexOf('--');
  const args = terminator < 0 ? argv : argv.slice(0, terminator);
  const passThrough = terminator < 0 ? [] : argv.slice(terminator + 1);
  const words = commandWords(args, table);
  const spec = [...table].sort((a, b) => b.words.length - a.words.length).find((candidate) => candidate.words.every((word, i) => words[i] === word));
  if (!spec) {
    if (args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help') return { kind: 'help', text: generalHelp(table) };
    const group = table.filter((candidate) => candidate.words[0] === words[0]);
    if (group.length > 0) throw new UsageError(`${words[0]} needs one of: ${group.map((c) => c.words.slice(1).join(' ')).join(', ')}`);
    throw new UsageError(`unknown command ${JSON.stringify(words[0] ?? args[0])}; see wasm-signer --help`);
  }
  let parsed: { values: OptionValues; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...spec.options }, allowPositionals: true, strict: true, allowNegative: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error));
  }
  if (parsed.values.help) return { kind: 'help', text: commandHelp(spec) };
  // The command's words come first in the positionals (options may sit between them).
  const positionals = removeWords(parsed.positionals, spec.words);
  if (positionals.length < spec.positionals.length)
    throw new UsageError(`${spec.words.join(' ')} needs ${spec.positionals.slice(positionals.length).join(', ')}; usage: ${spec.usage}`);
  if (positionals.length > spec.positionals.length)
    throw new UsageError(`${spec.words.join(' ')}: unexpected argument ${JSON.stringify(positionals[spec.positionals.length])}; usage: ${spec.usage}`);
  if (passThrough.length > 0 && !spec.passThrough) throw new UsageError(`${spec.words.join(' ')} takes no arguments after --`);
  spec.check?.(parsed.values);
  return { kind: 'command', invocation: { spec, values: parsed.values, positionals, passThrough, settings: globalSettings(parsed.values, env) } };
}

/** The positional words, read with every command's options known (so that option values are not taken for words). */
function commandWords(args: string[], table: readonly CommandSpec<never>[]): string[] {
  const options: ParseArgsOptionsConfig = { ...GLOBAL_OPTIONS };
  for (const spec of table) Object.assign(options, spec.options);
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: false, allowNegative: true }).positionals;
  } catch {
    return args.filter((arg) => !arg.startsWith('-'));
  }
}

function removeWords(positionals: string[], words: string[]): string[] {
  const rest = [...positionals];
  for (const word of words) rest.splice(rest.indexOf(word), 1);
  return rest;
}

function globalSettings(values: OptionValues, env: NodeJS.ProcessEnv): GlobalSettings {
  const output = (values.output as string | undefined) ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not ${JSON.stringify(output)}`);
  const url = (values.url as string | undefined) ?? (env.WASM_SIGNER_URL || DEFAULT_URL);
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw new UsageError(`--url must be http:// or https://, not ${parsedUrl.protocol}`);
  const timeoutMs = secondsOption(values, 'timeout', 60) * 1000;
  const audience = (values.audience as string | undefined) ?? (env.WASM_SIGNER_AUDIENCE || 'wasm-signer');
  return { url: url.replace(/\/+$/, ''), output, timeoutMs, audience };
}

/** A whole number of seconds, more than 0. */
export function secondsOption(values: OptionValues, name: string, fallback: number): number {
  return positiveIntegerOption(values, name, fallback, ' of seconds');
}

/** A whole number more than 0 (at most 2^53 - 1). */
export function positiveIntegerOption(values: OptionValues, name: string, fallback: number, unit = ''): number {
  const text = values[name] as string | undefined;
  if (text === undefined) return fallback;
  if (!/^\d{1,15}$/.test(text) || Number(text) <= 0) throw new UsageError(`--${name} takes a whole number${unit}, more than 0, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** `key=value` pairs (-a), each with a non-empty key. */
export function keyValues(values: OptionValues, name: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const pair of (values[name] as string[] | undefined) ?? []) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--${name} takes key=value, not ${JSON.stringify(pair)}`);
    pairs[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return pairs;
}

/** Exactly one of the two options (cosign's exact and regexp variants); the one given. */
export function oneOf(values: OptionValues, exact: string, regexp: string): { exact?: string; regexp?: string } {
  const a = values[exact] as string | undefined;
  const b = values[regexp] as string | undefined;
  if (a !== undefined && b !== undefined) throw new UsageError(`--${exact} and --${regexp} exclude each other`);
  if (a === undefined && b === undefined) throw new UsageError(`--${exact} or --${regexp} is required`);
  return a !== undefined ? { exact: a } : { regexp: b };
}

export function generalHelp(table: readonly CommandSpec<never>[]): string {
  return [
    'wasm-signer: publish, sign, build, verify and run WebAssembly components through a wasm-signer service.',
    '',
    'Commands:',
    ...table.flatMap((spec) => [`  ${spec.usage}`, `      ${spec.summary}`]),
    '',
    GLOBAL_HELP,
    '',
    'wasm-signer COMMAND --help shows the options of a command.',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec<never>): string {
  return [`usage: wasm-signer ${spec.usage}`, '', spec.summary, ...(spec.optionsHelp ? ['', spec.optionsHelp] : []), '', GLOBAL_HELP].join('\n');
}
