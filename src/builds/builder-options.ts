import { CodedError, errorCodes } from '../common/coded-error';

/**
 * The builders and the options a build request may give them. Options arrive from callers as JSON and
 * end up as paths and names on a command line inside the sandbox: they are checked field by field, and
 * unknown fields are refused rather than ignored.
 */

export const BUILDER_NAMES = ['componentize-js', 'cargo'] as const;
export type BuilderName = (typeof BUILDER_NAMES)[number];

export const BUILDER_OPTIONS_ERROR_CODES = errorCodes('INVALID_BUILDER_OPTIONS');
export type BuilderOptionsErrorCode = keyof typeof BUILDER_OPTIONS_ERROR_CODES;

/** The engine features componentize-js 0.23 can leave out (`disableFeatures`). */
export const COMPONENTIZE_JS_FEATURES = ['stdio', 'random', 'clocks', 'http', 'fetch-event'] as const;
export type ComponentizeJsFeature = (typeof COMPONENTIZE_JS_FEATURES)[number];

export interface ComponentizeJsOptions {
  /** The JS module, relative to the source root. Default index.js; package.json "main" is not consulted (it often names a CommonJS or bundled file). */
  entry: string;
  /** WIT file or directory, relative to the source root. Default `wit`. */
  wit: string;
  /** The world to target, when the WIT holds more than one. */
  world?: string;
  disableFeatures: ComponentizeJsFeature[];
}

export interface CargoOptions {
  /** The workspace member to build; required when the source is a workspace of several packages. */
  package?: string;
  /** The binary to build; required when the package has several. */
  bin?: string;
  features: string[];
  /** Which WASI preview1 adapter turns a wasm32-wasip1 module into a component; default from the target kind (bin → command, cdylib → reactor). */
  adapter?: 'command' | 'reactor';
}

export interface BuilderOptionsByName {
  'componentize-js': ComponentizeJsOptions;
  cargo: CargoOptions;
}

export type BuilderOptions = BuilderOptionsByName[BuilderName];

export const MAX_SOURCE_PATH_LENGTH = 256;
const MAX_PATH_DEPTH = 32;
const MAX_FEATURES = 64;
// Cargo package and target names: ASCII letters, digits, - and _, at most 64 (crates.io's rule).
const CARGO_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
// A feature, or `dependency/feature`, as `cargo build --features` takes them.
const CARGO_FEATURE = /^[A-Za-z0-9_][A-Za-z0-9_+.-]{0,63}(?:\/[A-Za-z0-9_][A-Za-z0-9_+.-]{0,63})?$/;
// A WIT world: `name`, or `namespace:package/name`, optionally `@version`; WIT identifiers are kebab-case words.
const WIT_ID = '[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)*';
const WIT_WORLD = new RegExp(`^(?:${WIT_ID}:${WIT_ID}/)?${WIT_ID}(?:@[0-9A-Za-z.+-]{1,64})?$`);

function invalid(builder: BuilderName, field: string, problem: string): CodedError<BuilderOptionsErrorCode> {
  return new CodedError(BUILDER_OPTIONS_ERROR_CODES.INVALID_BUILDER_OPTIONS, `${builder} option ${field} ${problem}`);
}

export function isBuilderName(value: unknown): value is BuilderName {
  return typeof value === 'string' && (BUILDER_NAMES as readonly string[]).includes(value);
}

function optionRecord(builder: BuilderName, options: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new CodedError(BUILDER_OPTIONS_ERROR_CODES.INVALID_BUILDER_OPTIONS, `${builder} options must be an object`);
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) throw invalid(builder, JSON.stringify(key), `is not known (known: ${allowed.join(', ')})`);
  }
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/** A path inside the source: relative, `/`-separated, no `.` or `..` segment, no control character. */
function sourcePath(builder: BuilderName, field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(builder, field, 'must be a string');
  if (value.length === 0 || value.length > MAX_SOURCE_PATH_LENGTH) throw invalid(builder, field, `must hold 1 to ${MAX_SOURCE_PATH_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) throw invalid(builder, field, 'must not hold control characters or backslashes');
  if (value.startsWith('/')) throw invalid(builder, field, `must be relative to the source root, got ${JSON.stringify(value)}`);
  const segments = value.replace(/\/$/, '').split('/');
  if (segments.length > MAX_PATH_DEPTH) throw invalid(builder, field, `must be at most ${MAX_PATH_DEPTH} directories deep`);
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw invalid(builder, field, `must stay inside the source (no empty, "." or ".." segments), got ${JSON.stringify(value)}`);
  }
  return segments.join('/');
}

function matching(builder: BuilderName, field: string, value: unknown, pattern: RegExp, grammar: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(builder, field, `must be ${grammar}, got ${JSON.stringify(value)}`);
  return value;
}

function stringList(builder: BuilderName, field: string, value: unknown, max: number): unknown[] {
  if (!Array.isArray(value)) throw invalid(builder, field, 'must be an array');
  if (value.length > max) throw invalid(builder, field, `must hold at most ${max} entries`);
  if (new Set(value).size !== value.length) throw invalid(builder, field, 'must not repeat an entry');
  return value;
}

function parseComponentizeJsOptions(options: unknown): ComponentizeJsOptions {
  const builder = 'componentize-js';
  const record = optionRecord(builder, options, ['entry', 'wit', 'world', 'disableFeatures']);
  const parsed: ComponentizeJsOptions = {
    entry: record.entry === undefined ? 'index.js' : sourcePath(builder, 'entry', record.entry),
    wit: record.wit === undefined ? 'wit' : sourcePath(builder, 'wit', record.wit),
    disableFeatures:
      record.disableFeatures === undefined
        ? []
        : stringList(builder, 'disableFeatures', record.disableFeatures, COMPONENTIZE_JS_FEATURES.length).map((feature) => {
            if (!(COMPONENTIZE_JS_FEATURES as readonly unknown[]).includes(feature)) {
              throw invalid(builder, 'disableFeatures', `entries must be among ${COMPONENTIZE_JS_FEATURES.join(', ')}, got ${JSON.stringify(feature)}`);
            }
            return feature as ComponentizeJsFeature;
          }),
  };
  if (record.world !== undefined) parsed.world = matching(builder, 'world', record.world, WIT_WORLD, 'a WIT world name (world or namespace:package/world, optionally @version)');
  return parsed;
}

function parseCargoOptions(options: unknown): CargoOptions {
  const builder = 'cargo';
  const record = optionRecord(builder, options, ['package', 'bin', 'features', 'adapter']);
  const parsed: CargoOptions = {
    features:
      record.features === undefined
        ? []
        : stringList(builder, 'features', record.features, MAX_FEATURES).map((feature) =>
            matching(builder, 'features', feature, CARGO_FEATURE, 'a cargo feature name (feature or dependency/feature)'),
          ),
  };
  const cargoName = 'a cargo name (a letter, then up to 63 letters, digits, - or _)';
  if (record.package !== undefined) parsed.package = matching(builder, 'package', record.package, CARGO_NAME, cargoName);
  if (record.bin !== undefined) parsed.bin = matching(builder, 'bin', record.bin, CARGO_NAME, cargoName);
  if (record.adapter !== undefined) {
    if (record.adapter !== 'command' && record.adapter !== 'reactor') throw invalid(builder, 'adapter', `must be "command" or "reactor", got ${JSON.stringify(record.adapter)}`);
    parsed.adapter = record.adapter;
  }
  return parsed;
}

/** Checks a builder's options and fills in their defaults; throws INVALID_BUILDER_OPTIONS naming the field at fault. */
export function parseBuilderOptions<N extends BuilderName>(name: N, options: unknown): BuilderOptionsByName[N];
export function parseBuilderOptions(name: BuilderName, options: unknown): BuilderOptions {
  if (!isBuilderName(name)) {
    throw new CodedError(BUILDER_OPTIONS_ERROR_CODES.INVALID_BUILDER_OPTIONS, `builder ${JSON.stringify(name)} is not known (known: ${BUILDER_NAMES.join(', ')})`);
  }
  return name === 'cargo' ? parseCargoOptions(options) : parseComponentizeJsOptions(options);
}
