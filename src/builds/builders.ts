import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CodedError, errorCodes } from '../common/coded-error';
import { probeSandbox, runInSandbox, SANDBOX_ERROR_CODES, type SandboxLimit, type SandboxLimits, type SandboxOutcome } from './build-sandbox';
import { BUILD_OUTPUT_DIR, BUILD_OUTPUT_FILE, type BuilderAvailability, type BuilderSandboxPlan, type BuildToolchains, type ToolchainComponent } from './build-toolchains';
import type { BuildWorkspace } from './build-workspace';
import { parseBuilderOptions, type BuilderName, type CargoOptions, type ComponentizeJsOptions } from './builder-options';
import { cargoSandboxPlan, inspectCargo } from './cargo-builder';
import { componentizeJsSandboxPlan, inspectComponentizeJs } from './componentize-js-builder';

/**
 * Runs a build: checks the builder can run here, runs its script in the sandbox on the workspace's
 * source, and hands back the component it wrote, checked (a regular file, within maxFileBytes, with the
 * preamble of a component) and copied out of the build's reach.
 */

export type { BuilderAvailability, BuildToolchains, ToolchainComponent } from './build-toolchains';
export { BUILDER_NAMES, BUILDER_OPTIONS_ERROR_CODES, parseBuilderOptions, type BuilderName, type BuilderOptions } from './builder-options';

export const BUILD_ERROR_CODES = errorCodes(
  'BUILD_FAILED',
  'BUILD_LIMIT_EXCEEDED',
  'BUILD_CANCELLED',
  'BUILD_OUTPUT_MISSING',
  'BUILD_OUTPUT_NOT_COMPONENT',
  'BUILDER_UNAVAILABLE',
  'SANDBOX_UNAVAILABLE',
);
export type BuildErrorCode = keyof typeof BUILD_ERROR_CODES;

/** A failed build. `sandbox` is the run's outcome when the build ran; `limit` the limit it hit (BUILD_LIMIT_EXCEEDED). BUILD_CANCELLED: the request's signal was aborted. */
export class BuildFailure extends CodedError<BuildErrorCode> {
  readonly sandbox?: SandboxOutcome;
  readonly limit?: SandboxLimit;

  constructor(code: BuildErrorCode, message: string, details: { sandbox?: SandboxOutcome; limit?: SandboxLimit; cause?: unknown } = {}) {
    super(code, message, details.cause === undefined ? {} : { cause: details.cause });
    this.name = 'BuildFailure';
    if (details.sandbox !== undefined) this.sandbox = details.sandbox;
    if (details.limit !== undefined) this.limit = details.limit;
  }
}

export interface BuildRequest {
  builder: BuilderName;
  /** The builder's options as the caller gave them (checked here) or as parseBuilderOptions returned them. */
  options: unknown;
  workspace: BuildWorkspace;
  toolchains: BuildToolchains;
  limits: SandboxLimits;
  signal?: AbortSignal;
  onLog?: (chunk: Buffer) => void;
}

export interface BuilderOutcome {
  /** Host path of the component, in the workspace's output directory. */
  wasmPath: string;
  sandbox: SandboxOutcome;
  /** sha256:<hex> of the source's Cargo.lock, as the build used it (cargo builds with --locked when there is one). */
  cargoLockDigest?: string;
  /** The Rust target (cargo). */
  target?: string;
  /** What built it: node, componentize-js or cargo, rustc, the Rust target and jco. */
  toolchain: ToolchainComponent[];
}

/**
 * How long a probe that found its tool usable is trusted. Probing runs the toolchains (`rustc --version`,
 * a sandboxed `true`, …): about 150 ms a build would otherwise pay each time. Workers re-probe every 15 s
 * for their reports anyway; a probe that found a problem is never reused, so a fix is seen at once.
 */
const PROBE_REUSE_MS = 30_000;
const recentProbes = new Map<string, { at: number; result: Promise<unknown> }>();

function recently<T extends { reason?: string | null; available?: boolean }>(key: string, probe: () => Promise<T>): Promise<T> {
  const known = recentProbes.get(key);
  if (known && Date.now() - known.at < PROBE_REUSE_MS) return known.result as Promise<T>;
  const result = probe();
  recentProbes.set(key, { at: Date.now(), result });
  void result.then(
    (value) => {
      if (value.available === false || (value.reason !== undefined && value.reason !== null)) recentProbes.delete(key);
    },
    () => recentProbes.delete(key),
  );
  return result;
}

const sandboxProbe = () => recently('sandbox', () => probeSandbox());
const cargoInspection = (toolchains: BuildToolchains) => recently(`cargo ${JSON.stringify(toolchains)}`, () => inspectCargo(toolchains));
const componentizeJsInspection = (toolchains: BuildToolchains) => recently(`componentize-js ${JSON.stringify(toolchains)}`, () => inspectComponentizeJs(toolchains));

/** Whether each builder can run here, and with what. */
export async function probeBuilders(toolchains: BuildToolchains): Promise<BuilderAvailability[]> {
  const [sandbox, componentizeJs, cargo] = await Promise.all([sandboxProbe(), componentizeJsInspection(toolchains), cargoInspection(toolchains)]);
  const availability = (name: BuilderName, inspection: { reason: string | null; toolchain: ToolchainComponent[] }): BuilderAvailability => {
    const reason = inspection.reason ?? (sandbox.available ? null : `sandbox: ${sandbox.reason ?? 'unavailable'}`);
    return { name, available: reason === null, reason, toolchain: inspection.toolchain };
  };
  return [availability('componentize-js', componentizeJs), availability('cargo', cargo)];
}

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /\u001b\[[0-9;?]*[A-Za-z]|[\u0000-\u0008\u000b-\u001f\u007f]/g;

/** The last lines of a log, printable, for an error message. */
export function lastLogLines(logTail: string, lines = 20, maxChars = 2000): string {
  const text = logTail.replace(UNPRINTABLE, '').trimEnd();
  const tail = text.split('\n').slice(-lines).join('\n');
  return tail.length > maxChars ? `…${tail.slice(-maxChars)}` : tail;
}

const WASM_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/** Why an 8-byte preamble is not a component's (00 61 73 6d 0d 00 01 00); null when it is. */
export function componentPreambleProblem(preamble: Buffer): string | null {
  const hex = [...preamble.subarray(0, 8)].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
  if (preamble.length < 8 || !preamble.subarray(0, 4).equals(WASM_MAGIC)) return `it is not WebAssembly: it starts with ${hex || 'nothing'}, not 00 61 73 6d`;
  const version = preamble.readUInt16LE(4);
  const layer = preamble.readUInt16LE(6);
  if (layer === 1 && version === 0x0d) return null;
  if (layer === 0 && version === 1) return 'it is a core WebAssembly module (01 00 00 00 after the magic), not a component (0d 00 01 00)';
  return `it has an unknown WebAssembly version and layer (${hex})`;
}

/** Reads an open file from its start in chunks (the handle stays open: its caller closes it). */
async function forEachChunk(handle: FileHandle, onChunk: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  for (let position = 0; ;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    await onChunk(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

async function sha256OfOpenFile(handle: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  await forEachChunk(handle, (chunk) => void hash.update(chunk));
  return hash.digest('hex');
}

/** Opens a file of the source for reading without following a link: the build's tree is not to be trusted. Null when absent. */
async function openSourceFile(path: string, what: string, code: BuildErrorCode): Promise<FileHandle | null> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (!stats.isFile()) throw new BuildFailure(code, `${what} is not a regular file (a link or directory)`);
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  const opened = await handle.stat();
  if (opened.ino !== stats.ino || opened.dev !== stats.dev) {
    await handle.close();
    throw new BuildFailure(code, `${what} changed while it was opened`);
  }
  return handle;
}

async function cargoLockDigest(sourceDir: string): Promise<string | undefined> {
  const handle = await openSourceFile(join(sourceDir, 'Cargo.lock'), 'Cargo.lock of the source', 'BUILD_FAILED');
  if (handle === null) return undefined;
  try {
    return `sha256:${await sha256OfOpenFile(handle)}`;
  } finally {
    await handle.close();
  }
}

/** Checks what the build left at .wasm-signer-out/component.wasm and copies it to the workspace's output directory. */
async function collectComponent(builder: BuilderName, workspace: BuildWorkspace, limits: SandboxLimits, sandbox: SandboxOutcome): Promise<string> {
  const outputDir = join(workspace.sourceDir, BUILD_OUTPUT_DIR);
  const missing = (why: string): BuildFailure =>
    new BuildFailure('BUILD_OUTPUT_MISSING', `the ${builder} build succeeded but ${why}; last lines of its log:\n${lastLogLines(sandbox.logTail)}`, { sandbox });
  try {
    if (!(await lstat(outputDir)).isDirectory()) throw missing(`${BUILD_OUTPUT_DIR} is not a directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missing(`wrote no ${BUILD_OUTPUT_DIR}/${BUILD_OUTPUT_FILE}`);
    throw error;
  }
  const handle = await openSourceFile(join(outputDir, BUILD_OUTPUT_FILE), `the build's ${BUILD_OUTPUT_DIR}/${BUILD_OUTPUT_FILE}`, 'BUILD_OUTPUT_MISSING');
  if (handle === null) throw missing(`wrote no ${BUILD_OUTPUT_DIR}/${BUILD_OUTPUT_FILE}`);
  try {
    const { size } = await handle.stat();
    if (size > limits.maxFileBytes) {
      throw new BuildFailure('BUILD_LIMIT_EXCEEDED', `the ${builder} build's output is ${size} bytes, more than maxFileBytes (${limits.maxFileBytes})`, { sandbox, limit: 'disk' });
    }
    const preamble = Buffer.alloc(8);
    const { bytesRead } = await handle.read(preamble, 0, 8, 0);
    const problem = componentPreambleProblem(preamble.subarray(0, bytesRead));
    if (problem !== null)
      throw new BuildFailure('BUILD_OUTPUT_NOT_COMPONENT', `the ${builder} build's output (${size} bytes) is not a WebAssembly component: ${problem}`, { sandbox });
    const wasmPath = join(workspace.outputDir, BUILD_OUTPUT_FILE);
    const copy = await open(wasmPath, 'wx', 0o600);
    try {
      let copied = 0;
      await forEachChunk(handle, async (chunk) => {
        copied += chunk.length;
        if (copied > limits.maxFileBytes)
          throw new BuildFailure('BUILD_LIMIT_EXCEEDED', `the ${builder} build's output grew past maxFileBytes (${limits.maxFileBytes})`, { sandbox, limit: 'disk' });
        await copy.write(chunk);
      });
    } finally {
      await copy.close();
    }
    return wasmPath;
  } finally {
    await handle.close();
  }
}

function limitFailure(builder: BuilderName, sandbox: SandboxOutcome, limit: { limit: SandboxLimit; message: string }): BuildFailure {
  return new BuildFailure('BUILD_LIMIT_EXCEEDED', `the ${builder} build was stopped at its ${limit.limit} limit: ${limit.message}`, { sandbox, limit: limit.limit });
}

/** Builds the workspace's source with a builder, in the sandbox. Throws BuildFailure (BUILD_ERROR_CODES) when no component comes out. */
export async function runBuilder(request: BuildRequest): Promise<BuilderOutcome> {
  const { builder, workspace, toolchains, limits } = request;
  const options = parseBuilderOptions(builder, request.options);
  const sandboxState = await sandboxProbe();
  if (!sandboxState.available) throw new BuildFailure('SANDBOX_UNAVAILABLE', `the build sandbox is unavailable: ${sandboxState.reason ?? 'unknown reason'}`);

  let plan: BuilderSandboxPlan;
  let toolchain: ToolchainComponent[];
  let target: string | undefined;
  let lockDigest: string | undefined;
  if (builder === 'cargo') {
    const inspection = await cargoInspection(toolchains);
    if (inspection.reason !== null || inspection.target === null)
      throw new BuildFailure('BUILDER_UNAVAILABLE', `the cargo builder is unavailable: ${inspection.reason ?? 'no target'}`);
    lockDigest = await cargoLockDigest(workspace.sourceDir);
    target = inspection.target;
    toolchain = inspection.toolchain;
    plan = cargoSandboxPlan(options as CargoOptions, toolchains, { target: inspection.target, locked: lockDigest !== undefined });
  } else {
    const inspection = await componentizeJsInspection(toolchains);
    if (inspection.reason !== null) throw new BuildFailure('BUILDER_UNAVAILABLE', `the componentize-js builder is unavailable: ${inspection.reason}`);
    toolchain = inspection.toolchain;
    plan = componentizeJsSandboxPlan(options as ComponentizeJsOptions, toolchains);
  }

  // What a previous run (or the source itself) left where the builder script writes is not its output.
  await rm(join(workspace.sourceDir, BUILD_OUTPUT_DIR), { recursive: true, force: true });
  let sandbox: SandboxOutcome;
  try {
    sandbox = await runInSandbox({ workDir: workspace.sourceDir, ...plan, limits, signal: request.signal, onLog: request.onLog });
  } catch (error) {
    if (error instanceof CodedError && error.code === SANDBOX_ERROR_CODES.SANDBOX_UNAVAILABLE) throw new BuildFailure('SANDBOX_UNAVAILABLE', error.message, { cause: error });
    throw error;
  }
  if (sandbox.limitExceeded?.limit === 'aborted') throw new BuildFailure('BUILD_CANCELLED', `the ${builder} build was cancelled`, { sandbox });
  if (sandbox.limitExceeded !== null) throw limitFailure(builder, sandbox, sandbox.limitExceeded);
  if (sandbox.exitCode !== 0) {
    throw new BuildFailure('BUILD_FAILED', `the ${builder} build failed with exit code ${String(sandbox.exitCode)}; last lines of its log:\n${lastLogLines(sandbox.logTail)}`, {
      sandbox,
    });
  }
  const wasmPath = await collectComponent(builder, workspace, limits, sandbox);
  return { wasmPath, sandbox, toolchain, ...(lockDigest === undefined ? {} : { cargoLockDigest: lockDigest }), ...(target === undefined ? {} : { target }) };
}
