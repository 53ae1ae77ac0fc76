/**
 * Streaming inspection of a WebAssembly binary: tells a core module from a component, checks the
 * section framing as the bytes arrive, and reads the top-level import and export names of a
 * component, which the OCI wasm config lists.
 *
 * Formats:
 * - Core: https://webassembly.github.io/spec/core/binary/modules.html
 * - Component Model: design/mvp/Binary.md in WebAssembly/component-model
 *
 * The whole file is never held in memory. Only the payload of the section being read is buffered,
 * and only for the two sections whose contents matter (a component's top-level import and export
 * sections); every other payload, nested core modules and components included, is skipped by
 * counting bytes. Errors do not depend on how the stream is split into chunks.
 */

export type WasmFormatErrorCode = 'WASM_BAD_MAGIC' | 'WASM_UNSUPPORTED_VERSION' | 'WASM_TRUNCATED' | 'WASM_MALFORMED_SECTION' | 'WASM_TOO_LARGE';

export class WasmFormatError extends Error {
  constructor(
    readonly code: WasmFormatErrorCode,
    message: string,
    /** Byte offset in the file the error is about, when there is one. */
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'WasmFormatError';
  }
}

export interface WasmInspection {
  kind: 'component' | 'module';
  /** The OCI config `os`: `wasip2` for a component, `wasip1` for a core module. */
  os: 'wasip2' | 'wasip1';
  /** Size of the whole binary in bytes. */
  size: number;
  /** Top-level import names of a component, in binary order (e.g. `wasi:io/error@0.2.0`); `[]` for a module. */
  imports: string[];
  /** Top-level export names of a component, in binary order; `[]` for a module. */
  exports: string[];
}

export interface WasmInspectorOptions {
  /** Largest accepted binary, in bytes. Unlimited when absent. */
  maxBytes?: number;
  /** Largest import or export section that is buffered to be read. Defaults to 16 MiB. */
  maxBufferedSectionBytes?: number;
}

export const DEFAULT_MAX_BUFFERED_SECTION_BYTES = 16 * 1024 * 1024;

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d] as const;
/** `version` (u32 little-endian) of a core module. */
const CORE_MODULE_VERSION = [0x01, 0x00, 0x00, 0x00] as const;
/**
 * `version` (u16 0x000d, the pre-standard component binary version wasm-tools emits) followed by
 * `layer` (u16 0x0001, component). A core module's `layer` is 0, which lets the two be told apart.
 */
const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00] as const;
const PREAMBLE_LENGTH = 8;

const CORE_SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count', 'tag'] as const;

const COMPONENT_SECTION_NAMES = [
  'custom',
  'core module',
  'core instance',
  'core type',
  'component',
  'instance',
  'alias',
  'type',
  'canon',
  'start',
  'import',
  'export',
  'value',
] as const;

const COMPONENT_IMPORT_SECTION = 10;
const COMPONENT_EXPORT_SECTION = 11;

type WasmKind = WasmInspection['kind'];

/** Where the inspector is in the byte stream. */
type Phase =
  | { name: 'preamble' }
  | { name: 'section-id' }
  | { name: 'section-size'; section: SectionStart; size: VarU32Decoder }
  | { name: 'section-skip'; section: SectionHeader; remaining: number }
  | { name: 'section-buffer'; section: SectionHeader; payload: Uint8Array; filled: number };

interface SectionStart {
  id: number;
  /** Offset of the id byte. */
  offset: number;
}

interface SectionHeader extends SectionStart {
  size: number;
  /** Offset of the first payload byte. */
  payloadOffset: number;
}

export class WasmInspector {
  private readonly maxBytes: number;
  private readonly maxBufferedSectionBytes: number;
  private readonly preamble: number[] = [];
  private kind: WasmKind | undefined;
  private phase: Phase = { name: 'preamble' };
  /** Offset of the next byte to arrive (= bytes received so far). */
  private offset = 0;
  private readonly imports: string[] = [];
  private readonly exports: string[] = [];
  private failure: WasmFormatError | undefined;
  private result: WasmInspection | undefined;

  constructor(options: WasmInspectorOptions = {}) {
    this.maxBytes = byteLimit(options.maxBytes, Number.POSITIVE_INFINITY, 'maxBytes');
    this.maxBufferedSectionBytes = byteLimit(options.maxBufferedSectionBytes, DEFAULT_MAX_BUFFERED_SECTION_BYTES, 'maxBufferedSectionBytes');
  }

  /** Feeds the next chunk. Throws a WasmFormatError as soon as the bytes cannot be a valid binary. */
  push(chunk: Uint8Array): void {
    this.guard(() => {
      if (this.result !== undefined) throw new Error('WasmInspector.push() called after finish()');
      // Bytes up to the limit are read first, so that the error does not depend on the chunking.
      const accepted = chunk.subarray(0, Math.min(chunk.length, this.maxBytes - this.offset));
      let position = 0;
      while (position < accepted.length) {
        const consumed = this.consume(accepted, position);
        position += consumed;
        this.offset += consumed;
      }
      if (accepted.length < chunk.length) {
        throw new WasmFormatError('WASM_TOO_LARGE', `the file is larger than the limit of ${this.maxBytes} bytes`, this.maxBytes);
      }
    });
  }

  /** Ends the stream. Throws WASM_TRUNCATED when it ended inside the preamble or a section. */
  finish(): WasmInspection {
    return this.guard(() => {
      this.result ??= this.conclude();
      return { ...this.result, imports: [...this.result.imports], exports: [...this.result.exports] };
    });
  }

  /** Runs `step`, remembering a format error so that every later call reports it again. */
  private guard<T>(step: () => T): T {
    if (this.failure) throw this.failure;
    try {
      return step();
    } catch (error) {
      if (error instanceof WasmFormatError) this.failure = error;
      throw error;
    }
  }

  private conclude(): WasmInspection {
    const phase = this.phase;
    switch (phase.name) {
      case 'preamble':
        throw this.incompletePreambleError();
      case 'section-size':
        throw new WasmFormatError(
          'WASM_TRUNCATED',
          `the file ends at byte ${this.offset}, inside the header of the ${this.sectionName(phase.section.id)} ` + `section that starts at byte ${phase.section.offset}`,
          this.offset,
        );
      case 'section-skip':
      case 'section-buffer': {
        const { section } = phase;
        const missing = section.payloadOffset + section.size - this.offset;
        throw new WasmFormatError(
          'WASM_TRUNCATED',
          `the file ends at byte ${this.offset}, inside the ${this.sectionName(section.id)} section that ` +
            `starts at byte ${section.offset} and declares ${section.size} bytes (${missing} missing)`,
          this.offset,
        );
      }
      case 'section-id': {
        const kind = this.kind!;
        return {
          kind,
          os: kind === 'component' ? 'wasip2' : 'wasip1',
          size: this.offset,
          imports: this.imports,
          exports: this.exports,
        };
      }
    }
  }

  /** Consumes bytes of `chunk` from `position` for the current phase; returns how many. */
  private consume(chunk: Uint8Array, position: number): number {
    const phase = this.phase;
    switch (phase.name) {
      case 'preamble':
        this.readPreambleByte(chunk[position]!);
        return 1;
      case 'section-id':
        this.readSectionId(chunk[position]!);
        return 1;
      case 'section-size':
        this.readSectionSizeByte(phase.section, phase.size, chunk[position]!);
        return 1;
      case 'section-skip': {
        const consumed = Math.min(phase.remaining, chunk.length - position);
        phase.remaining -= consumed;
        if (phase.remaining === 0) this.phase = { name: 'section-id' };
        return consumed;
      }
      case 'section-buffer': {
        const consumed = Math.min(phase.payload.length - phase.filled, chunk.length - position);
        phase.payload.set(chunk.subarray(position, position + consumed), phase.filled);
        phase.filled += consumed;
        if (phase.filled === phase.payload.length) this.completeBufferedSection(phase.section, phase.payload);
        return consumed;
      }
    }
  }

  // --- Preamble ---------------------------------------------------------------------------------

  private readPreambleByte(byte: number): void {
    this.preamble.push(byte);
    if (this.preamble.length === WASM_MAGIC.length && !startsWith(this.preamble, WASM_MAGIC)) {
      throw badMagicError(this.preamble);
    }
    if (this.preamble.length === PREAMBLE_LENGTH) {
      this.kind = kindFromVersion(this.preamble.slice(WASM_MAGIC.length));
      this.phase = { name: 'section-id' };
    }
  }

  private incompletePreambleError(): WasmFormatError {
    const seen = this.preamble;
    if (seen.length === 0) {
      return new WasmFormatError('WASM_TRUNCATED', 'the file is empty; a WebAssembly binary starts with 00 61 73 6d', 0);
    }
    const magicSeen = seen.slice(0, WASM_MAGIC.length);
    if (!startsWith(WASM_MAGIC, magicSeen)) return badMagicError(magicSeen);
    return new WasmFormatError('WASM_TRUNCATED', `the file ends after ${seen.length} bytes, inside the 8-byte WebAssembly preamble (magic and version)`, seen.length);
  }

  // --- Section framing: id byte, LEB128 u32 size, payload ---------------------------------------

  private readSectionId(id: number): void {
    const names = this.kind === 'component' ? COMPONENT_SECTION_NAMES : CORE_SECTION_NAMES;
    if (id >= names.length) {
      const kind = this.kind === 'component' ? 'component' : 'core module';
      throw new WasmFormatError(
        'WASM_MALFORMED_SECTION',
        `invalid section id ${id} (0x${hex(id)}) at byte ${this.offset}: a ${kind} has section ids 0 to ${names.length - 1}`,
        this.offset,
      );
    }
    const section = { id, offset: this.offset };
    this.phase = { name: 'section-size', section, size: new VarU32Decoder(this.offset + 1, this.sizeLabel(section)) };
  }

  private readSectionSizeByte(section: SectionStart, size: VarU32Decoder, byte: number): void {
    if (!size.feed(byte)) return;
    const header: SectionHeader = { ...section, size: size.value, payloadOffset: this.offset + 1 };
    const end = header.payloadOffset + header.size;
    if (end > this.maxBytes) {
      throw new WasmFormatError(
        'WASM_TOO_LARGE',
        `the ${this.sectionName(section.id)} section at byte ${section.offset} declares ${header.size} bytes, ` + `which takes the file past the limit of ${this.maxBytes} bytes`,
        section.offset,
      );
    }
    if (this.isBufferedSection(section.id)) {
      this.startBufferedSection(header);
    } else {
      this.phase = header.size === 0 ? { name: 'section-id' } : { name: 'section-skip', section: header, remaining: header.size };
    }
  }

  /** Only a component's own (top-level) import and export sections are read. */
  private isBufferedSection(id: number): boolean {
    return this.kind === 'component' && (id === COMPONENT_IMPORT_SECTION || id === COMPONENT_EXPORT_SECTION);
  }

  private startBufferedSection(section: SectionHeader): void {
    if (section.size > this.maxBufferedSectionBytes) {
      throw new WasmFormatError(
        'WASM_TOO_LARGE',
        `the ${this.sectionName(section.id)} section at byte ${section.offset} declares ${section.size} bytes; ` +
          `at most ${this.maxBufferedSectionBytes} bytes are accepted for it`,
        section.offset,
      );
    }
    const payload = new Uint8Array(section.size);
    if (section.size === 0) {
      this.completeBufferedSection(section, payload);
    } else {
      this.phase = { name: 'section-buffer', section, payload, filled: 0 };
    }
  }

  private completeBufferedSection(section: SectionHeader, payload: Uint8Array): void {
    const reader = new SectionReader(payload, section, this.sectionName(section.id));
    if (section.id === COMPONENT_IMPORT_SECTION) readImportSection(reader, this.imports);
    else readExportSection(reader, this.exports);
    this.phase = { name: 'section-id' };
  }

  private sectionName(id: number): string {
    return (this.kind === 'component' ? COMPONENT_SECTION_NAMES : CORE_SECTION_NAMES)[id] ?? `id ${id}`;
  }

  private sizeLabel(section: SectionStart): string {
    return `the size of the ${this.sectionName(section.id)} section at byte ${section.offset}`;
  }
}

function byteLimit(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${option} must be a non-negative integer, got ${value}`);
  return value;
}

function kindFromVersion(version: number[]): WasmKind {
  if (startsWith(version, CORE_MODULE_VERSION)) return 'module';
  if (startsWith(version, COMPONENT_VERSION)) return 'component';
  const layer = version[2]! | (version[3]! << 8);
  const detail =
    layer === 1
      ? `component binary version 0x${hex(version[0]! | (version[1]! << 8), 4)} is not supported, only 0x000d`
      : `version bytes ${hexBytes(version)} are neither 01 00 00 00 (core module) nor 0d 00 01 00 (component)`;
  throw new WasmFormatError('WASM_UNSUPPORTED_VERSION', `unsupported WebAssembly binary at byte 4: ${detail}`, 4);
}

function badMagicError(firstBytes: number[]): WasmFormatError {
  return new WasmFormatError('WASM_BAD_MAGIC', `not a WebAssembly binary: the file starts with ${hexBytes(firstBytes)}, expected ${hexBytes(WASM_MAGIC)}`, 0);
}

// --- LEB128 -------------------------------------------------------------------------------------

/**
 * Decodes an unsigned LEB128 u32 one byte at a time, so that a section size split across chunks
 * decodes like any other. At most 5 bytes; in the fifth only the low 4 bits may be set.
 */
class VarU32Decoder {
  value = 0;
  private length = 0;

  constructor(
    private readonly startOffset: number,
    private readonly label: string,
  ) {}

  /** Adds the next byte; returns true once the number is complete. */
  feed(byte: number): boolean {
    const index = this.length++;
    if (index === 4 && byte & 0x80) {
      throw this.malformed('it is longer than 5 bytes');
    }
    if (index === 4 && byte & 0x70) {
      throw this.malformed('it does not fit in 32 bits');
    }
    this.value += (byte & 0x7f) * 2 ** (7 * index);
    return (byte & 0x80) === 0;
  }

  private malformed(reason: string): WasmFormatError {
    return new WasmFormatError('WASM_MALFORMED_SECTION', `malformed LEB128 number at byte ${this.startOffset} (${this.label}): ${reason}`, this.startOffset);
  }
}

// --- Component import and export sections -------------------------------------------------------

/** Reads a buffered section payload, reporting errors at their offset in the file. */
class SectionReader {
  private position = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly section: SectionHeader,
    private readonly sectionName: string,
  ) {}

  get offset(): number {
    return this.section.payloadOffset + this.position;
  }

  readByte(what: string): number {
    if (this.position >= this.bytes.length) {
      throw this.malformed(`the section ends at byte ${this.offset} in the middle of ${what}`);
    }
    return this.bytes[this.position++]!;
  }

  readVarU32(what: string): number {
    const decoder = new VarU32Decoder(this.offset, `${what} in the ${this.sectionName} section`);
    while (!decoder.feed(this.readByte(what)));
    return decoder.value;
  }

  /**
   * Skips a signed LEB128 of at most 33 bits (a component `valtype`: a primitive type code, which
   * is one byte, or a type index). The fifth byte carries bits 28-32, bit 32 being the sign (0x10);
   * its two bits above (0x60) must repeat the sign, and it must be the last byte.
   */
  skipVarS33(what: string): void {
    const start = this.offset;
    for (let index = 0; index < 4; index++) {
      if ((this.readByte(what) & 0x80) === 0) return;
    }
    const last = this.readByte(what);
    const signAndUnused = last & 0x70;
    if (last & 0x80 || (signAndUnused !== 0 && signAndUnused !== 0x70)) {
      throw this.malformed(`malformed LEB128 number at byte ${start} (${what}): it does not fit in 33 bits`, start);
    }
  }

  /** A `name`: LEB128 u32 byte length, then that many bytes of UTF-8. */
  readName(what: string): string {
    const length = this.readVarU32(`the length of ${what}`);
    const start = this.offset;
    if (length > this.bytes.length - this.position) {
      throw this.malformed(`${what} at byte ${start} declares ${length} bytes, past the end of the section at byte ${this.section.payloadOffset + this.bytes.length}`, start);
    }
    const raw = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    try {
      return utf8.decode(raw);
    } catch {
      throw this.malformed(`${what} at byte ${start} is not valid UTF-8`, start);
    }
  }

  expectEnd(what: string): void {
    if (this.position !== this.bytes.length) {
      throw this.malformed(`${this.bytes.length - this.position} unexpected bytes at byte ${this.offset}, after ${what}`);
    }
  }

  malformed(reason: string, offset = this.offset): WasmFormatError {
    return new WasmFormatError('WASM_MALFORMED_SECTION', `malformed ${this.sectionName} section (at byte ${this.section.offset}): ${reason}`, offset);
  }

  unexpectedByte(byte: number, what: string): WasmFormatError {
    return this.malformed(`unexpected byte 0x${hex(byte)} at byte ${this.offset - 1} for ${what}`, this.offset - 1);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `vec(import)` where `import ::= name:<nameattributes> type:<externtype>`; appends the names to `names`. */
function readImportSection(reader: SectionReader, names: string[]): void {
  const count = reader.readVarU32('the import count');
  for (let index = 0; index < count; index++) {
    const what = `import #${index}`;
    names.push(readExternName(reader, what));
    skipExternType(reader, what);
  }
  reader.expectEnd(`the ${count} imports`);
}

/** `vec(export)` where `export ::= name:<nameattributes> item:<sortidx> type:<externtype>?`; appends the names to `names`. */
function readExportSection(reader: SectionReader, names: string[]): void {
  const count = reader.readVarU32('the export count');
  for (let index = 0; index < count; index++) {
    const what = `export #${index}`;
    names.push(readExternName(reader, what));
    skipExportedItem(reader, what);
    skipOptionalExternType(reader, what);
  }
  reader.expectEnd(`the ${count} exports`);
}

/**
 * `nameattributes`: a discriminator byte, then the name.
 * - 0x00: the current encoding (what wasm-tools emits).
 * - 0x01: the discriminator for interface names before component-model#263; still accepted by
 *   wasmparser, the name itself is unchanged.
 * - 0x02: the name followed by `vec(attribute)`, each a byte (0x00 implements, 0x01 versionsuffix,
 *   0x02 external-id) and a string. The attributes do not change the name.
 */
function readExternName(reader: SectionReader, what: string): string {
  const discriminator = reader.readByte(`the name of ${what}`);
  if (discriminator > 0x02) throw reader.unexpectedByte(discriminator, `the name of ${what} (expected 0x00, 0x01 or 0x02)`);
  const name = reader.readName(`the name of ${what}`);
  if (discriminator === 0x02) {
    const attributes = reader.readVarU32(`the attribute count of ${what}`);
    for (let index = 0; index < attributes; index++) {
      const kind = reader.readByte(`an attribute of ${what}`);
      if (kind > 0x02) throw reader.unexpectedByte(kind, `an attribute of ${what} (expected 0x00, 0x01 or 0x02)`);
      reader.readName(`an attribute of ${what}`);
    }
  }
  return name;
}

/**
 * `externtype`:
 *   0x00 0x11 core-typeidx (core module) | 0x01 typeidx (func) | 0x02 valtype (value) |
 *   0x03 typebound (type) | 0x04 typeidx (component) | 0x05 typeidx (instance)
 * with `typebound ::= 0x00 typeidx (eq) | 0x01 (sub resource)`.
 *
 * For values, Binary.md describes a `valuebound` (0x00 valueidx | 0x01 valtype) while wasm-tools
 * (the encoder and wasmparser) writes and reads a bare `valtype`; the bare form is read here.
 */
function skipExternType(reader: SectionReader, what: string): void {
  const kindWhat = `the type of ${what}`;
  const kind = reader.readByte(kindWhat);
  switch (kind) {
    case 0x00: {
      const coreSort = reader.readByte(kindWhat);
      if (coreSort !== 0x11) throw reader.unexpectedByte(coreSort, `${kindWhat} (0x00 must be followed by 0x11, core module)`);
      reader.readVarU32(`the core type index of ${what}`);
      return;
    }
    case 0x01:
    case 0x04:
    case 0x05:
      reader.readVarU32(`the type index of ${what}`);
      return;
    case 0x02:
      reader.skipVarS33(`the value type of ${what}`);
      return;
    case 0x03: {
      const bound = reader.readByte(`the type bound of ${what}`);
      if (bound === 0x00) reader.readVarU32(`the type index of ${what}`);
      else if (bound !== 0x01) throw reader.unexpectedByte(bound, `the type bound of ${what} (expected 0x00 or 0x01)`);
      return;
    }
    default:
      throw reader.unexpectedByte(kind, `${kindWhat} (expected 0x00 to 0x05)`);
  }
}

/**
 * `sortidx` of an export: a sort (0x00 0x11 core module, or 0x01 func … 0x05 instance) and an
 * index. Only the core module sort of the core sorts can be exported from a component.
 */
function skipExportedItem(reader: SectionReader, what: string): void {
  const sortWhat = `the kind of ${what}`;
  const sort = reader.readByte(sortWhat);
  if (sort === 0x00) {
    const coreSort = reader.readByte(sortWhat);
    if (coreSort !== 0x11) throw reader.unexpectedByte(coreSort, `${sortWhat} (0x00 must be followed by 0x11, core module)`);
  } else if (sort > 0x05) {
    throw reader.unexpectedByte(sort, `${sortWhat} (expected 0x00 to 0x05)`);
  }
  reader.readVarU32(`the index of ${what}`);
}

/** The optional type ascribed to an export: 0x00 none, or 0x01 followed by an `externtype`. */
function skipOptionalExternType(reader: SectionReader, what: string): void {
  const present = reader.readByte(`the optional type of ${what}`);
  if (present === 0x01) skipExternType(reader, what);
  else if (present !== 0x00) throw reader.unexpectedByte(present, `the optional type of ${what} (expected 0x00 or 0x01)`);
}

// --- Helpers ------------------------------------------------------------------------------------

function startsWith(bytes: readonly number[], prefix: readonly number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

function hex(value: number, width = 2): string {
  return value.toString(16).padStart(width, '0');
}

function hexBytes(bytes: readonly number[]): string {
  return bytes.map((byte) => hex(byte)).join(' ');
}
