import { join, resolve } from 'node:path';
import type { SandboxMount } from './build-sandbox';
import {
  BUILD_OUTPUT_DIR,
  BUILD_OUTPUT_FILE,
  fileSha256,
  isExecutable,
  nodeComponent,
  nodeToolchainMounts,
  npmPackageComponent,
  pathExists,
  SANDBOX_BUILDERS_DIR,
  SANDBOX_NODE_PREFIX,
  SANDBOX_RUST_PREFIX,
  toolOutput,
  type BuilderSandboxPlan,
  type BuildToolchains,
  type ToolchainComponent,
  builderScriptComponent,
} from './build-toolchains';
import type { CargoOptions } from './builder-options';

/**
 * The cargo builder: a Rust crate becomes a component. `cargo build --offline --release --target T`
 * with T the first of wasm32-wasip2 (whose output is a component already), wasm32-wasip1 and its older
 * name wasm32-wasi (whose output is a core module, which builders/cargo.mjs turns into a component with
 * jco and the WASI preview1 command or reactor adapter) that the toolchain has the standard library for.
 * CARGO_HOME is a fresh directory in the sandbox's /tmp, RUSTC the toolchain's own rustc (the first
 * `rustc` on a PATH may be another one), and the network is absent, so dependencies must be vendored
 * (.cargo/config.toml replacing crates-io with a vendor directory).
 */

export const WASM_TARGETS = ['wasm32-wasip2', 'wasm32-wasip1', 'wasm32-wasi'] as const;
export type WasmTarget = (typeof WASM_TARGETS)[number];
export const JCO_PACKAGE = '@bytecodealliance/jco';

export interface CargoInspection {
  reason: string | null;
  toolchain: ToolchainComponent[];
  /** The target builds use; null when the toolchain has none of WASM_TARGETS. */
  target: WasmTarget | null;
}

const UNSET_CARGO_HOME = join('/nonexistent', 'wasm-signer-cargo-home');

/** Where the toolchain's prefix appears in the sandbox: /usr is there already, anything else is mounted at /opt/rust. */
function sandboxRustPrefix(prefix: string): { path: string; mount: SandboxMount | null } {
  const resolved = resolve(prefix);
  if (resolved === '/usr' || resolved.startsWith('/usr/')) return { path: resolved, mount: null };
  return { path: SANDBOX_RUST_PREFIX, mount: { hostPath: resolved, sandboxPath: SANDBOX_RUST_PREFIX } };
}

export function needsPreview1Adapter(target: WasmTarget): boolean {
  return target !== 'wasm32-wasip2';
}

export async function inspectCargo(toolchains: BuildToolchains): Promise<CargoInspection> {
  const toolchain: ToolchainComponent[] = [];
  const reasons: string[] = [];
  let target: WasmTarget | null = null;
  let missingLinker: string[] | null = null;
  try {
    toolchain.push(await nodeComponent(toolchains.nodePrefix));
  } catch (error) {
    reasons.push((error as Error).message);
  }
  const cargo = join(toolchains.rustToolchainPrefix, 'bin', 'cargo');
  const rustc = join(toolchains.rustToolchainPrefix, 'bin', 'rustc');
  let binariesFound = true;
  for (const [name, path] of [
    ['cargo', cargo],
    ['rustc', rustc],
  ] as const) {
    if (await isExecutable(path)) continue;
    reasons.push(`${name}: ${path} not found`);
    binariesFound = false;
  }
  if (!binariesFound) return { reason: reasons.join('; '), toolchain, target };
  const env = { CARGO_HOME: UNSET_CARGO_HOME };
  try {
    const rustcVersion = await toolOutput(rustc, ['-vV'], env);
    const rustcRelease = /^release:\s*(\S+)$/m.exec(rustcVersion)?.[1] ?? 'unknown';
    const cargoRelease = /^cargo\s+(\S+)/.exec(await toolOutput(cargo, ['-V'], env))?.[1] ?? 'unknown';
    toolchain.push({ name: 'cargo', version: cargoRelease, uri: `pkg:generic/cargo@${encodeURIComponent(cargoRelease)}`, digest: { sha256: await fileSha256(cargo) } });
    toolchain.push({ name: 'rustc', version: rustcRelease, uri: `pkg:generic/rustc@${encodeURIComponent(rustcRelease)}`, digest: { sha256: await fileSha256(rustc) } });
    const sysroot = await toolOutput(rustc, ['--print', 'sysroot'], env);
    for (const candidate of WASM_TARGETS) {
      if (await pathExists(join(sysroot, 'lib', 'rustlib', candidate, 'lib'))) {
        target = candidate;
        break;
      }
    }
    if (target === null) {
      reasons.push(`rustc ${rustcRelease} has neither wasm32-wasip2 nor wasm32-wasip1/wasm32-wasi installed (no ${join(sysroot, 'lib', 'rustlib')}/<target>/lib)`);
    } else if (needsPreview1Adapter(target) && (missingLinker = await missingRustLld(toolchains.rustToolchainPrefix, sysroot, rustcVersion))) {
      // rustc links wasm32-wasi(p1) with rust-lld: rustup ships it in the sysroot; Debian's rustc has a
      // link to lld-14, a package it only recommends. Without it every build would fail at its last step.
      reasons.push(`rust-lld (the linker of ${target}) not found: ${missingLinker.join(', ')} (on Debian: install lld-14)`);
    } else {
      toolchain.push({ name: 'rust-std', version: rustcRelease, uri: `pkg:generic/rust-std@${encodeURIComponent(rustcRelease)}?target=${target}` });
    }
  } catch (error) {
    reasons.push(`rust toolchain in ${toolchains.rustToolchainPrefix}: ${(error as Error).message}`);
  }
  if (target !== null && needsPreview1Adapter(target)) {
    const jco = await npmPackageComponent(toolchains.nodeModulesDir, JCO_PACKAGE);
    const adapter = join(toolchains.nodeModulesDir, JCO_PACKAGE, 'lib', 'wasi_snapshot_preview1.command.wasm');
    if (jco === null || !(await pathExists(adapter))) reasons.push(`jco (the WASI preview1 adapters for ${target}): ${join(toolchains.nodeModulesDir, JCO_PACKAGE)} not found`);
    else toolchain.push(jco);
  }
  const script = await builderScriptComponent(toolchains.buildersDir, 'cargo.mjs');
  if (script === null) reasons.push(`cargo: ${join(toolchains.buildersDir, 'cargo.mjs')} not found`);
  else toolchain.push(script);
  return { reason: reasons.length > 0 ? reasons.join('; ') : null, toolchain, target };
}

/**
 * Where rustc would look for its wasm linker (in the sysroot's host tools, as rustup ships it, or beside
 * rustc), when none of them is an executable file (a link that resolves): null when it is found.
 */
async function missingRustLld(prefix: string, sysroot: string, rustcVersionText: string): Promise<string[] | null> {
  const host = /^host:\s*(\S+)$/m.exec(rustcVersionText)?.[1];
  const candidates = [...(host ? [join(sysroot, 'lib', 'rustlib', host, 'bin', 'rust-lld')] : []), join(prefix, 'bin', 'rust-lld')];
  for (const candidate of candidates) if (await isExecutable(candidate)) return null;
  return candidates;
}

export function cargoSandboxPlan(options: CargoOptions, toolchains: BuildToolchains, build: { target: WasmTarget; locked: boolean }): BuilderSandboxPlan {
  const rust = sandboxRustPrefix(toolchains.rustToolchainPrefix);
  const driverOptions = {
    cargo: `${rust.path}/bin/cargo`,
    target: build.target,
    locked: build.locked,
    ...(options.package === undefined ? {} : { package: options.package }),
    ...(options.bin === undefined ? {} : { bin: options.bin }),
    features: options.features,
    ...(options.adapter === undefined ? {} : { adapter: options.adapter }),
    output: `/build/${BUILD_OUTPUT_DIR}/${BUILD_OUTPUT_FILE}`,
  };
  return {
    command: [`${SANDBOX_NODE_PREFIX}/bin/node`, `${SANDBOX_BUILDERS_DIR}/cargo.mjs`, JSON.stringify(driverOptions)],
    env: {
      PATH: `${rust.path}/bin:${SANDBOX_NODE_PREFIX}/bin:/usr/bin`,
      HOME: '/tmp',
      CARGO_HOME: '/tmp/cargo-home',
      RUSTC: `${rust.path}/bin/rustc`,
      CARGO_NET_OFFLINE: 'true',
      CARGO_TERM_COLOR: 'never',
      NO_COLOR: '1',
    },
    readOnlyMounts: [...nodeToolchainMounts(toolchains), ...(rust.mount === null ? [] : [rust.mount])],
  };
}
