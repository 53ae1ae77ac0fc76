import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { boundedOutcome, chunked, fuzzParameters, mutatedBytes } from '../../test/support/fuzz';
import { WasmFormatError, type WasmInspection, WasmInspector } from './wasm-inspector';

/**
 * Property-based fuzzing of the streaming .wasm inspector: for arbitrary bytes and damaged valid
 * binaries, in any chunking, it returns an inspection or throws a WasmFormatError, quickly, and the
 * outcome does not depend on how the bytes were chunked.
 */
const FIXTURES = ['hello-http.wasm', 'hello-module.wasm', 'plain-names.wasm'].map((name) => new Uint8Array(readFileSync(join(__dirname, '..', 'artifacts', '__fixtures__', name))));
const PREAMBLES = [
  [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // core module
  [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00], // component
].map((bytes) => Uint8Array.from(bytes));
/** Far above a normal inspection (a few ms): it catches runaway work, not scheduling noise on a busy machine. */
const MAX_MS = 1_000;
const MAX_BYTES = 64 * 1024;

type Outcome = { inspection: WasmInspection } | { code: string; offset: number | undefined };

function inspect(chunks: Uint8Array[]): Outcome {
  const inspector = new WasmInspector({ maxBytes: MAX_BYTES, maxBufferedSectionBytes: 16 * 1024 });
  let outcome: Outcome | undefined;
  boundedOutcome(
    () => {
      try {
        for (const chunk of chunks) inspector.push(chunk);
        outcome = { inspection: inspector.finish() };
      } catch (error) {
        if (error instanceof WasmFormatError) outcome = { code: error.code, offset: error.offset };
        throw error;
      }
    },
    (error) => error instanceof WasmFormatError,
    MAX_MS,
  );
  return outcome!;
}

const sameOutcomeInAnyChunking = (bytes: Uint8Array, chunks: Uint8Array[]) => {
  expect(inspect(chunks)).toEqual(inspect([bytes]));
};

describe('WasmInspector under fuzzing', () => {
  it('returns or throws a WasmFormatError for arbitrary bytes, with or without a valid preamble', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }),
      fc.tuple(fc.constantFrom(...PREAMBLES), fc.uint8Array({ maxLength: 2048 })).map(([preamble, rest]) => Uint8Array.from([...preamble, ...rest])),
    );
    fc.assert(
      fc.property(
        bytes.chain((b) => fc.tuple(fc.constant(b), chunked(b))),
        ([b, chunks]) => sameOutcomeInAnyChunking(b, chunks),
      ),
      fuzzParameters(2000),
    );
  });

  it('returns or throws a WasmFormatError for damaged valid binaries, in any chunking', () => {
    const damaged = fc.constantFrom(...FIXTURES).chain((fixture) => mutatedBytes(fixture));
    fc.assert(
      fc.property(
        damaged.chain((b) => fc.tuple(fc.constant(b), chunked(b))),
        ([b, chunks]) => sameOutcomeInAnyChunking(b, chunks),
      ),
      fuzzParameters(2000),
    );
  });

  it('reads every undamaged fixture in any chunking', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FIXTURES).chain((b) => fc.tuple(fc.constant(b), chunked(b))),
        ([b, chunks]) => {
          expect(inspect(chunks)).toEqual({ inspection: expect.objectContaining({ size: b.length }) });
        },
      ),
      fuzzParameters(50),
    );
  });
});
