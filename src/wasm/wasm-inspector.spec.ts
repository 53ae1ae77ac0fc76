import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { WasmFormatError, WasmFormatErrorCode, WasmInspection, WasmInspector, WasmInspectorOptions } from './wasm-inspector';

const FIXTURES = join(__dirname, '..', 'artifacts', '__fixtures__');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

const httpComponent = fixture('hello-http.wasm');
const plainNamesComponent = fixture('plain-names.wasm');
const coreModule = fixture('hello-module.wasm');

/** Feeds `bytes` in chunks of `chunkSize` (one chunk when absent) and finishes. */
function inspect(bytes: Uint8Array, chunkSize = bytes.length || 1, options?: WasmInspectorOptions): WasmInspection {
  const inspector = new WasmInspector(options);
  for (let start = 0; start < bytes.length; start += chunkSize) {
    inspector.push(bytes.subarray(start, start + chunkSize));
  }
  return inspector.finish();
}

function formatError(run: () => unknown): WasmFormatError {
  try {
    run();
  } catch (error) {
    if (error instanceof WasmFormatError) return error;
    throw error;
  }
  throw new Error('expected a WasmFormatError, but the inspection succeeded');
}

/** The error of inspecting `bytes`, checked to be the same whatever the chunking. */
function inspectionError(bytes: Uint8Array, options?: WasmInspectorOptions): WasmFormatError {
  const whole = formatError(() => inspect(bytes, undefined, options));
  for (const chunkSize of [1, 3, 64]) {
    const chunked = formatError(() => inspect(bytes, chunkSize, options));
    expect({ code: chunked.code, message: chunked.message, offset: chunked.offset }).toEqual({
      code: whole.code,
      message: whole.message,
      offset: whole.offset,
    });
  }
  return whole;
}

function expectError(bytes: Uint8Array, code: WasmFormatErrorCode, message: RegExp, options?: WasmInspectorOptions): WasmFormatError {
  const error = inspectionError(bytes, options);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  return error;
}

/** Import and export names in a world printed by `jco wit` (`import wasi:io/error@0.2.0;`, `export run: func();`). */
function worldNames(witFile: string): { imports: string[]; exports: string[] } {
  const names = { imports: [] as string[], exports: [] as string[] };
  for (const line of readFileSync(join(FIXTURES, witFile), 'utf8').split('\n')) {
    const match = /^\s*(import|export) (.+?)(?:;|: )/.exec(line);
    if (match) names[match[1] === 'import' ? 'imports' : 'exports'].push(match[2]!);
  }
  return names;
}

/**
 * Offsets where the preamble or a top-level section ends, from a plain walk over the section
 * headers (id byte, LEB128 size) of a well-formed binary.
 */
function sectionBoundaries(wasm: Uint8Array): Set<number> {
  const boundaries = new Set([8]);
  let offset = 8;
  while (offset < wasm.length) {
    offset += 1;
    let size = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = wasm[offset++]!;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    offset += size;
    boundaries.add(offset);
  }
  return boundaries;
}

function expectPrefixOutcome(wasm: Uint8Array, length: number, chunkSize: number, full: WasmInspection, boundaries: Set<number>): void {
  const prefix = wasm.subarray(0, length);
  if (boundaries.has(length)) {
    const inspection = inspect(prefix, chunkSize);
    expect(inspection.size).toBe(length);
    expect(inspection.kind).toBe(full.kind);
    expect(full.imports.slice(0, inspection.imports.length)).toEqual(inspection.imports);
    expect(full.exports.slice(0, inspection.exports.length)).toEqual(inspection.exports);
    return;
  }
  const error = formatError(() => inspect(prefix, chunkSize));
  if (error.code !== 'WASM_TRUNCATED' || error.offset !== length) {
    throw new Error(`prefix of ${length} bytes: expected WASM_TRUNCATED at ${length}, got ${error.code} at ${error.offset}: ${error.message}`);
  }
}

// --- Encoding helpers for hand-made binaries ------------------------------------------------------

const bytes = (...values: (number | Uint8Array | number[])[]): Uint8Array => Uint8Array.from(values.flatMap((value) => (typeof value === 'number' ? [value] : [...value])));

function leb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const name = (text: string): Uint8Array => bytes(leb(utf8(text).length), utf8(text));
const section = (id: number, payload: Uint8Array): Uint8Array => bytes(id, leb(payload.length), payload);
const vec = (items: Uint8Array[]): Uint8Array => bytes(leb(items.length), ...items);

const MODULE_PREAMBLE = bytes(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
const COMPONENT_PREAMBLE = bytes(0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00);
const component = (...sections: Uint8Array[]): Uint8Array => bytes(COMPONENT_PREAMBLE, ...sections);

/** `(import "<name>" (instance (type 0)))` with the current 0x00 name form. */
const instanceImport = (importName: string): Uint8Array => bytes(0x00, name(importName), 0x05, 0x00);
/** `(export "<name>" (instance 0))` without an ascribed type. */
const instanceExport = (exportName: string): Uint8Array => bytes(0x00, name(exportName), 0x05, 0x00, 0x00);

describe('WasmInspector', () => {
  describe('real binaries', () => {
    it('reads a component: kind, os, size and the imports and exports `jco wit` prints', () => {
      const inspection = inspect(httpComponent);

      expect(inspection).toEqual({
        kind: 'component',
        os: 'wasip2',
        size: httpComponent.length,
        imports: ['wasi:clocks/monotonic-clock@0.2.0', 'wasi:io/error@0.2.0', 'wasi:io/streams@0.2.0', 'wasi:http/types@0.2.0'],
        exports: ['wasi:http/incoming-handler@0.2.0'],
      });
      const world = worldNames('hello-http.wasm.wit');
      expect([...inspection.imports].sort()).toEqual([...world.imports].sort());
      expect([...inspection.exports].sort()).toEqual([...world.exports].sort());
    });

    it('reads plain-named function imports and exports, and exports with an ascribed type', () => {
      const inspection = inspect(plainNamesComponent);

      expect(inspection.imports).toEqual(['log', 'wasi:cli/environment@0.2.0']);
      expect(inspection.exports).toEqual(['run', 'start', 'example:demo/runner@1.0.0']);
      const world = worldNames('plain-names.wasm.wit');
      expect([...inspection.imports].sort()).toEqual([...world.imports].sort());
      expect([...inspection.exports].sort()).toEqual([...world.exports].sort());
    });

    it('reads a core module as wasip1 with no component imports or exports', () => {
      expect(inspect(coreModule)).toEqual({ kind: 'module', os: 'wasip1', size: 154, imports: [], exports: [] });
    });

    it('does not report the imports and exports of nested components and core modules', () => {
      // hello-http.wasm nests a shim component and core modules with imports and exports of their own.
      const nested = component(section(4, bytes(COMPONENT_PREAMBLE, section(10, vec([instanceImport('inner:pkg/iface')])))));
      expect(inspect(nested).imports).toEqual([]);
      expect(inspect(httpComponent).exports).toEqual(['wasi:http/incoming-handler@0.2.0']);
    });

    it.each([
      ['hello-http.wasm', httpComponent],
      ['plain-names.wasm', plainNamesComponent],
      ['hello-module.wasm', coreModule],
    ])('gives the same result for %s fed one byte at a time, in odd chunks and in one chunk', (_name, wasm) => {
      const whole = inspect(wasm);
      expect(inspect(wasm, 1)).toEqual(whole);
      expect(inspect(wasm, 7)).toEqual(whole);
      expect(inspect(wasm, 1000)).toEqual(whole);
    });

    it.each([
      ['hello-http.wasm', httpComponent],
      ['plain-names.wasm', plainNamesComponent],
      ['hello-module.wasm', coreModule],
    ])('reports every prefix of %s that ends inside the preamble or a section as truncated', (_name, wasm) => {
      // A prefix that ends exactly between two sections is itself a well-formed binary: it must
      // then describe what it holds, never names from the part that is missing.
      const full = inspect(wasm);
      const boundaries = sectionBoundaries(wasm);
      for (let length = 0; length < wasm.length; length++) {
        expectPrefixOutcome(wasm, length, length, full, boundaries);
      }
    });

    it('treats prefixes the same when they arrive one byte at a time', () => {
      const full = inspect(plainNamesComponent);
      const boundaries = sectionBoundaries(plainNamesComponent);
      for (let length = 0; length < plainNamesComponent.length; length++) {
        expectPrefixOutcome(plainNamesComponent, length, 1, full, boundaries);
      }
    });
  });

  describe('preamble', () => {
    it('rejects a file that is not WebAssembly, quoting its first bytes', () => {
      const elf = bytes(0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00);
      const error = expectError(elf, 'WASM_BAD_MAGIC', /^not a WebAssembly binary: the file starts with 7f 45 4c 46, expected 00 61 73 6d$/);
      expect(error.offset).toBe(0);
    });

    it('rejects a bad magic as soon as its fourth byte arrives', () => {
      const inspector = new WasmInspector();
      inspector.push(bytes(0x00, 0x61, 0x73));
      expect(() => inspector.push(bytes(0x6e))).toThrow(/starts with 00 61 73 6e/);
    });

    it('rejects a short file that does not start like WebAssembly as a bad magic', () => {
      expectError(utf8('{}'), 'WASM_BAD_MAGIC', /the file starts with 7b 7d, expected 00 61 73 6d/);
    });

    it('reports an empty file as truncated', () => {
      expectError(new Uint8Array(0), 'WASM_TRUNCATED', /the file is empty/);
    });

    it('reports a corrupted version', () => {
      const corrupted = Buffer.from(coreModule);
      corrupted[4] = 0x02;
      const error = expectError(corrupted, 'WASM_UNSUPPORTED_VERSION', /version bytes 02 00 00 00 are neither 01 00 00 00 \(core module\) nor 0d 00 01 00 \(component\)/);
      expect(error.offset).toBe(4);
    });

    it('reports an older component binary version', () => {
      const older = Buffer.from(httpComponent);
      older[4] = 0x0a;
      expectError(older, 'WASM_UNSUPPORTED_VERSION', /component binary version 0x000a is not supported, only 0x000d/);
    });

    it('accepts a preamble with no sections', () => {
      expect(inspect(MODULE_PREAMBLE)).toEqual({ kind: 'module', os: 'wasip1', size: 8, imports: [], exports: [] });
      expect(inspect(COMPONENT_PREAMBLE)).toEqual({ kind: 'component', os: 'wasip2', size: 8, imports: [], exports: [] });
    });
  });

  describe('section framing', () => {
    it('rejects a section id a component cannot have, with its offset, as soon as it arrives', () => {
      const inspector = new WasmInspector();
      inspector.push(httpComponent);
      expect(() => inspector.push(bytes(13, 0))).toThrow(`invalid section id 13 (0x0d) at byte ${httpComponent.length}: a component has section ids 0 to 12`);
      expectError(bytes(httpComponent, 13, 0), 'WASM_MALFORMED_SECTION', /invalid section id 13/);
    });

    it('rejects a section id a core module cannot have', () => {
      const error = expectError(bytes(coreModule, 14, 0), 'WASM_MALFORMED_SECTION', /invalid section id 14 \(0x0e\) at byte 154: a core module has section ids 0 to 13/);
      expect(error.offset).toBe(154);
      expect(inspect(bytes(coreModule, 13, 0)).kind).toBe('module');
    });

    it('reports a section whose size runs past the end of the file as truncated', () => {
      const custom = bytes(MODULE_PREAMBLE, 0, leb(100), name('x'), 1, 2);
      expectError(custom, 'WASM_TRUNCATED', /the file ends at byte 14, inside the custom section that starts at byte 8 and declares 100 bytes \(96 missing\)/);
    });

    it('reports a stream that ends inside a section header as truncated', () => {
      expectError(bytes(MODULE_PREAMBLE, 1, 0x80, 0x80), 'WASM_TRUNCATED', /inside the header of the type section that starts at byte 8/);
    });

    it('rejects a section size LEB128 longer than 5 bytes', () => {
      const error = expectError(
        bytes(MODULE_PREAMBLE, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
        'WASM_MALFORMED_SECTION',
        /malformed LEB128 number at byte 9 \(the size of the custom section at byte 8\): it is longer than 5 bytes/,
      );
      expect(error.offset).toBe(9);
    });

    it('rejects a section size LEB128 that overflows 32 bits', () => {
      expectError(bytes(COMPONENT_PREAMBLE, 1, 0xff, 0xff, 0xff, 0xff, 0x1f), 'WASM_MALFORMED_SECTION', /it does not fit in 32 bits/);
    });

    it('accepts a padded (non-minimal) section size LEB128 of 5 bytes', () => {
      expect(inspect(bytes(MODULE_PREAMBLE, 0, 0x82, 0x80, 0x80, 0x80, 0x00, name('x'))).size).toBe(16);
    });

    it('skips nested core modules and components without reading them', () => {
      const opaque = bytes(0xde, 0xad, 0xbe, 0xef);
      expect(inspect(component(section(1, opaque), section(4, opaque)))).toMatchObject({ imports: [], exports: [] });
    });
  });

  describe('size limits', () => {
    it('rejects a file larger than maxBytes', () => {
      const limit = httpComponent.length;
      expect(inspect(httpComponent, undefined, { maxBytes: limit }).size).toBe(limit);
      const error = expectError(bytes(httpComponent, 0), 'WASM_TOO_LARGE', /^the file is larger than the limit of 7353 bytes$/, { maxBytes: limit });
      expect(error.offset).toBe(limit);
    });

    it('rejects a section that would go past maxBytes before its payload arrives', () => {
      const inspector = new WasmInspector({ maxBytes: 1000 });
      expect(() => inspector.push(bytes(MODULE_PREAMBLE, 10, leb(5000)))).toThrow(
        'the code section at byte 8 declares 5000 bytes, which takes the file past the limit of 1000 bytes',
      );
    });

    it('stops a real component at the first section that crosses the limit, whatever the chunking', () => {
      const error = expectError(httpComponent, 'WASM_TOO_LARGE', /section at byte \d+ declares \d+ bytes, which takes the file past the limit of 4096 bytes/, {
        maxBytes: 4096,
      });
      expect(error.offset).toBeLessThan(4096);
    });

    it('refuses limits that are not byte counts', () => {
      expect(() => new WasmInspector({ maxBytes: -1 })).toThrow(RangeError);
      expect(() => new WasmInspector({ maxBufferedSectionBytes: Number.NaN })).toThrow('maxBufferedSectionBytes must be a non-negative integer, got NaN');
    });

    it('caps the size of a buffered import or export section', () => {
      const imports = section(10, vec([instanceImport('wasi:io/error@0.2.0')]));
      expectError(component(imports), 'WASM_TOO_LARGE', /the import section at byte 8 declares 24 bytes; at most 16 bytes are accepted for it/, {
        maxBufferedSectionBytes: 16,
      });
      expect(inspect(component(imports), undefined, { maxBufferedSectionBytes: 24 }).imports).toEqual(['wasi:io/error@0.2.0']);
    });
  });

  describe('component import and export sections', () => {
    it('reads names in every form wasm-tools reads: 0x00, 0x01 and 0x02 with attributes', () => {
      const imports = vec([
        bytes(0x00, name('wasi:io/error@0.2.0'), 0x05, 0x00),
        bytes(0x01, name('wasi:io/streams@0.2.0'), 0x05, 0x01),
        bytes(0x02, name('primary-store'), leb(2), 0x00, name('wasi:keyvalue/store@0.2.0'), 0x02, name('id-1'), 0x05, 0x02),
      ]);
      expect(inspect(component(section(10, imports))).imports).toEqual(['wasi:io/error@0.2.0', 'wasi:io/streams@0.2.0', 'primary-store']);
    });

    it('reads every kind of import type', () => {
      const imports = vec([
        bytes(0x00, name('module'), 0x00, 0x11, leb(0)),
        bytes(0x00, name('func'), 0x01, leb(300)),
        bytes(0x00, name('value-primitive'), 0x02, 0x73),
        bytes(0x00, name('value-typed'), 0x02, 0x80, 0x01),
        bytes(0x00, name('type-eq'), 0x03, 0x00, leb(7)),
        bytes(0x00, name('type-resource'), 0x03, 0x01),
        bytes(0x00, name('component'), 0x04, leb(1)),
        bytes(0x00, name('instance'), 0x05, leb(2)),
      ]);
      expect(inspect(component(section(10, imports))).imports).toEqual(['module', 'func', 'value-primitive', 'value-typed', 'type-eq', 'type-resource', 'component', 'instance']);
    });

    it('reads exports of every sort, with and without an ascribed type', () => {
      const exports = vec([
        bytes(0x00, name('core-module'), 0x00, 0x11, leb(0), 0x00),
        bytes(0x00, name('run'), 0x01, leb(0), 0x01, 0x01, leb(3)),
        bytes(0x00, name('greeting'), 0x02, leb(0), 0x00),
        bytes(0x00, name('request'), 0x03, leb(4), 0x01, 0x03, 0x01),
        bytes(0x00, name('inner'), 0x04, leb(0), 0x00),
        bytes(0x00, name('wasi:http/incoming-handler@0.2.0'), 0x05, leb(1), 0x01, 0x05, leb(9)),
      ]);
      expect(inspect(component(section(11, exports))).exports).toEqual(['core-module', 'run', 'greeting', 'request', 'inner', 'wasi:http/incoming-handler@0.2.0']);
    });

    it('collects names across several import and export sections', () => {
      const wasm = component(section(10, vec([instanceImport('a:b/c')])), section(11, vec([instanceExport('a:b/d')])), section(10, vec([instanceImport('a:b/e@1.0.0')])));
      expect(inspect(wasm, 1)).toMatchObject({ imports: ['a:b/c', 'a:b/e@1.0.0'], exports: ['a:b/d'] });
    });

    it('decodes names as UTF-8 and rejects invalid UTF-8', () => {
      expect(inspect(component(section(10, vec([instanceImport('café')])))).imports).toEqual(['café']);
      const invalid = component(section(10, vec([bytes(0x00, leb(2), 0xc3, 0x28, 0x05, 0x00)])));
      expectError(invalid, 'WASM_MALFORMED_SECTION', /malformed import section \(at byte 8\): the name of import #0 at byte 13 is not valid UTF-8/);
    });

    it('rejects a name that runs past the end of its section', () => {
      const wasm = component(section(10, bytes(leb(1), 0x00, leb(40), utf8('short'))));
      expectError(wasm, 'WASM_MALFORMED_SECTION', /the name of import #0 at byte 13 declares 40 bytes, past the end of the section at byte 18/);
    });

    it('rejects an entry cut off by the end of its section', () => {
      const wasm = component(section(11, bytes(leb(1), 0x00, name('run'), 0x01)));
      expectError(wasm, 'WASM_MALFORMED_SECTION', /malformed export section \(at byte 8\): the section ends at byte 17 in the middle of the index of export #0/);
    });

    it('rejects bytes left over after the declared entries', () => {
      const wasm = component(section(10, bytes(vec([instanceImport('a:b/c')]), 0xff)));
      expectError(wasm, 'WASM_MALFORMED_SECTION', /1 unexpected bytes at byte 20, after the 1 imports/);
    });

    it('rejects unknown discriminator and kind bytes', () => {
      expectError(component(section(10, bytes(leb(1), 0x03, name('x'), 0x05, 0x00))), 'WASM_MALFORMED_SECTION', /unexpected byte 0x03 at byte 11 for the name of import #0/);
      expectError(component(section(10, bytes(leb(1), 0x00, name('x'), 0x06, 0x00))), 'WASM_MALFORMED_SECTION', /unexpected byte 0x06 at byte 14 for the type of import #0/);
      expectError(component(section(10, bytes(leb(1), 0x00, name('x'), 0x00, 0x10, 0x00))), 'WASM_MALFORMED_SECTION', /0x00 must be followed by 0x11/);
      expectError(component(section(10, bytes(leb(1), 0x00, name('x'), 0x03, 0x02))), 'WASM_MALFORMED_SECTION', /the type bound of import #0/);
      expectError(component(section(11, bytes(leb(1), 0x00, name('x'), 0x06, 0x00, 0x00))), 'WASM_MALFORMED_SECTION', /unexpected byte 0x06 at byte 14 for the kind of export #0/);
      expectError(component(section(11, bytes(leb(1), 0x00, name('x'), 0x01, 0x00, 0x02))), 'WASM_MALFORMED_SECTION', /the optional type of export #0 \(expected 0x00 or 0x01\)/);
      expectError(component(section(10, bytes(leb(1), 0x02, name('x'), leb(1), 0x03, name('y'), 0x05, 0x00))), 'WASM_MALFORMED_SECTION', /an attribute of import #0/);
    });

    it('rejects malformed LEB128 numbers inside a section', () => {
      const longCount = component(section(10, bytes(0x81, 0x80, 0x80, 0x80, 0x80, 0x00)));
      expectError(longCount, 'WASM_MALFORMED_SECTION', /malformed LEB128 number at byte 10 \(the import count in the import section\): it is longer than 5 bytes/);
      const wideIndex = component(section(10, bytes(leb(1), 0x00, name('x'), 0x05, 0xff, 0xff, 0xff, 0xff, 0x7f)));
      expectError(wideIndex, 'WASM_MALFORMED_SECTION', /it does not fit in 32 bits/);
      const wideValueType = component(section(10, bytes(leb(1), 0x00, name('x'), 0x02, 0xff, 0xff, 0xff, 0xff, 0x4f)));
      expectError(wideValueType, 'WASM_MALFORMED_SECTION', /it does not fit in 33 bits/);
    });

    it('reads a section with a very large number of imports', () => {
      const count = 300_000;
      const entries = new Uint8Array(count * 4).fill(0);
      for (let index = 0; index < count; index++) entries[index * 4 + 2] = 0x05; // 0x00 "" (instance 0)
      const imports = inspect(component(section(10, bytes(leb(count), entries))), 65536).imports;
      expect(imports).toHaveLength(count);
      expect(imports[count - 1]).toBe('');
    });

    it('rejects an empty import section', () => {
      expectError(component(section(10, new Uint8Array(0))), 'WASM_MALFORMED_SECTION', /in the middle of the import count/);
    });
  });

  describe('corrupted input', () => {
    /** A small deterministic generator (mulberry32), so that a failure can be replayed. */
    function random(seed: number): () => number {
      return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it.each([
      ['hello-http.wasm', httpComponent],
      ['plain-names.wasm', plainNamesComponent],
      ['hello-module.wasm', coreModule],
    ])('only ever succeeds or throws a WasmFormatError on randomly damaged copies of %s', (_name, wasm) => {
      const next = random(wasm.length);
      for (let round = 0; round < 500; round++) {
        const damaged = Buffer.from(wasm);
        for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) {
          damaged[8 + Math.floor(next() * (damaged.length - 8))] = Math.floor(next() * 256);
        }
        const chunkSize = 1 + Math.floor(next() * 100);
        try {
          inspect(damaged, chunkSize);
        } catch (error) {
          if (!(error instanceof WasmFormatError)) throw new Error(`round ${round}: ${String(error)}`);
        }
      }
    });
  });

  describe('lifecycle', () => {
    it('reports the first error again on every later call', () => {
      const inspector = new WasmInspector();
      const first = formatError(() => inspector.push(bytes(1, 2, 3, 4)));
      expect(formatError(() => inspector.push(coreModule))).toBe(first);
      expect(formatError(() => inspector.finish())).toBe(first);
    });

    it('returns the same inspection from repeated finish() calls and refuses more bytes', () => {
      const inspector = new WasmInspector();
      inspector.push(plainNamesComponent);
      const result = inspector.finish();
      result.imports.push('changed by the caller');
      expect(inspector.finish()).toEqual(inspect(plainNamesComponent));
      expect(() => inspector.push(bytes(0))).toThrow('WasmInspector.push() called after finish()');
    });
  });
});
