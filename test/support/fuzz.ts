import fc from 'fast-check';

/**
 * Inputs for property-based fuzzing: arbitrary values, and valid documents or binaries with a few
 * mutations applied (most arbitrary input is refused at the first byte; mutations of a valid input reach
 * the deeper paths of a parser). Shared by the parsers' fuzz specs and the multipart end-to-end fuzz.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value inside `value` (the root is []). */
function pathsOf(value: Json, path: (string | number)[] = [], found: (string | number)[][] = []): (string | number)[][] {
  found.push(path);
  if (Array.isArray(value)) value.forEach((inner, i) => pathsOf(inner, [...path, i], found));
  else if (value && typeof value === 'object') for (const [key, inner] of Object.entries(value)) pathsOf(inner, [...path, key], found);
  return found;
}

type JsonMutation = { op: 'delete' | 'replace' | 'wrap' | 'duplicate-key' | 'stringify'; at: number; value: Json };

/** Applies one mutation to a copy of `document` at the `at`-th path (modulo the number of paths). */
function applyJsonMutation(document: Json, { op, at, value }: JsonMutation): Json {
  const copy = structuredClone(document);
  const paths = pathsOf(copy);
  const path = paths[at % paths.length]!;
  if (path.length === 0) return op === 'wrap' ? [copy] : op === 'replace' ? value : copy;
  const parent = path.slice(0, -1).reduce<Json>((node, key) => (node as Record<string, Json>)[key as string]!, copy) as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  switch (op) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 'replace':
      parent[key] = value;
      break;
    case 'wrap':
      parent[key] = [parent[key]!];
      break;
    case 'duplicate-key':
      if (!Array.isArray(parent)) parent[`${String(key)}\u0000`] = parent[key]!;
      break;
    case 'stringify':
      parent[key] = JSON.stringify(parent[key]);
      break;
  }
  return copy;
}

/** Values a mutation puts in place: anything JSON, and the values parsers tend to trip on. */
const replacement: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>('', '0', '-1', 'null', '\u0000', 'A'.repeat(10_000), '==', 'MIIB', -1, 0, 2 ** 53, 1e308, -0, [], {}, [[[[[[]]]]]], true),
  fc.base64String({ maxLength: 200 }),
);

/** `document` with one to three structural mutations. */
export function mutatedJson(document: Json): fc.Arbitrary<Json> {
  const mutation = fc.record({ op: fc.constantFrom('delete', 'replace', 'wrap', 'duplicate-key', 'stringify'), at: fc.nat(), value: replacement }) as fc.Arbitrary<JsonMutation>;
  return fc.array(mutation, { minLength: 1, maxLength: 3 }).map((mutations) => mutations.reduce(applyJsonMutation, document));
}

/** The text of `document`, cut, spliced or with a character changed: what a file damaged on the way looks like. */
export function mutatedJsonText(document: Json): fc.Arbitrary<string> {
  const text = JSON.stringify(document);
  return fc.oneof(
    fc.nat(text.length).map((at) => text.slice(0, at)),
    fc.tuple(fc.nat(text.length), fc.string({ maxLength: 8, unit: 'binary' })).map(([at, insert]) => text.slice(0, at) + insert + text.slice(at)),
    fc.tuple(fc.nat(Math.max(text.length - 1, 0)), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })).map(([at, c]) => text.slice(0, at) + c + text.slice(at + 1)),
  );
}

type ByteMutation = { op: 'set' | 'cut' | 'insert' | 'repeat' | 'ff-run'; at: number; size: number; value: number; extra: Uint8Array };

/** Applies one mutation to a copy of `bytes`; `at` is taken modulo the length. */
function applyByteMutation(bytes: Uint8Array, { op, at, size, value, extra }: ByteMutation): Uint8Array {
  const position = bytes.length === 0 ? 0 : at % (bytes.length + 1);
  switch (op) {
    case 'set': {
      const copy = Uint8Array.from(bytes);
      if (position < copy.length) copy[position] = value;
      return copy;
    }
    case 'cut':
      return bytes.slice(0, position);
    case 'insert':
      return Uint8Array.from([...bytes.subarray(0, position), ...extra, ...bytes.subarray(position)]);
    case 'repeat':
      return Uint8Array.from([...bytes.subarray(0, position + size), ...bytes.subarray(position)]);
    case 'ff-run': {
      // 0xff bytes make an LEB128 number that never ends, or a huge section size.
      const copy = Uint8Array.from(bytes);
      copy.fill(0xff, position, Math.min(position + size, copy.length));
      return copy;
    }
  }
}

/** `bytes` with one to three mutations: a byte set, a cut, an insertion, a slice repeated, a run of 0xff. */
export function mutatedBytes(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const mutation = fc.record({
    op: fc.constantFrom('set', 'cut', 'insert', 'repeat', 'ff-run'),
    at: fc.nat(),
    size: fc.integer({ min: 1, max: 64 }),
    value: fc.integer({ min: 0, max: 255 }),
    extra: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }) as fc.Arbitrary<ByteMutation>;
  return fc.array(mutation, { minLength: 1, maxLength: 3 }).map((mutations) => mutations.reduce(applyByteMutation, bytes));
}

/** Splits `bytes` into chunks at arbitrary boundaries, as a network delivers them. */
export function chunked(bytes: Uint8Array): fc.Arbitrary<Uint8Array[]> {
  return fc.uniqueArray(fc.nat(bytes.length), { maxLength: 8 }).map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), bytes.length];
    const chunks: Uint8Array[] = [];
    for (let i = 1; i < points.length; i++) chunks.push(bytes.subarray(points[i - 1], points[i]));
    return chunks;
  });
}

/**
 * Runs `parse` on one input and says how it ended: `returned`, or `refused` with a coded error that
 * `isCoded` recognises. Any other exception, or a run longer than `maxMs`, fails the property.
 */
export function boundedOutcome(parse: () => unknown, isCoded: (error: unknown) => boolean, maxMs: number): 'returned' | 'refused' {
  const started = performance.now();
  let outcome: 'returned' | 'refused';
  try {
    parse();
    outcome = 'returned';
  } catch (error) {
    if (!isCoded(error))
      throw new Error(`threw something other than its coded error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
    outcome = 'refused';
  }
  const elapsed = performance.now() - started;
  if (elapsed > maxMs) throw new Error(`took ${elapsed.toFixed(1)} ms, more than ${maxMs} ms`);
  return outcome;
}

/** Property-run settings shared by the fuzz specs: a fixed budget of runs, and a wall-clock cap on all of them. */
export const fuzzParameters = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, interruptAfterTimeLimit: 8_000, markInterruptAsFailure: false });
