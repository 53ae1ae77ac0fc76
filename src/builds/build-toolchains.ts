import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { SandboxMount, SandboxRun } from './build-sandbox';
import type { BuilderName } from './builder-options';
import type { ToolchainComponent } from '../pipeline/job-catalogue';

/**
 * Where the toolchains a build uses live on the host, how they appear inside the sandbox, and what they
 * are (name, version, purl, digest) so that provenance can name them.
 */

export interface BuildToolchains {
  /** Install prefix of the node that runs the builder scripts (bin/node below it). */
  nodePrefix: string;
  /** node_modules holding componentize-js and jco. */
  nodeModulesDir: string;
  /** The directory of the builder scripts (builders/ at the root of the project). */
  buildersDir: string;
  /** Prefix of the Rust toolchain: bin/cargo and bin/rustc below it. */
  rustToolchainPrefix: string;
}

/** One part of a toolchain (its digest: of the main binary, or of the npm package's package.json). */
export type { ToolchainComponent };

export interface BuilderAvailability {
  name: BuilderName;
  available: boolean;
  /** Why the builder cannot run here, when it cannot. */
  reason: string | null;
  toolchain: ToolchainComponent[];
}

/** Where the toolchains are mounted inside the sandbox. */
export const SANDBOX_NODE_PREFIX = '/opt/node';
export const SANDBOX_NODE_MODULES = '/opt/wasm-signer/node_modules';
export const SANDBOX_BUILDERS_DIR = '/opt/wasm-signer/builders';
/** A Rust toolchain outside /usr (which the sandbox shows anyway) is mounted here. */
export const SANDBOX_RUST_PREFIX = '/opt/rust';
/** The one file a builder script writes for us, relative to the source root. */
export const BUILD_OUTPUT_DIR = '.wasm-signer-out';
export const BUILD_OUTPUT_FILE = 'component.wasm';

/** Node, node_modules and the builder scripts, read-only: never the project root, its configuration or data. */
export function nodeToolchainMounts(toolchains: BuildToolchains): SandboxMount[] {
  return [
    { hostPath: toolchains.nodePrefix, sandboxPath: SANDBOX_NODE_PREFIX },
    { hostPath: toolchains.nodeModulesDir, sandboxPath: SANDBOX_NODE_MODULES },
    { hostPath: toolchains.buildersDir, sandboxPath: SANDBOX_BUILDERS_DIR },
  ];
}

/** What a builder runs in the sandbox. */
export type BuilderSandboxPlan = Pick<SandboxRun, 'command' | 'env' | 'readOnlyMounts'>;

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The project root: the nearest directory above `from` holding package.json and builders/. (After
 * `nest build` dist/ holds a copy of package.json too, hence builders/.) Works from src/ under tsx and
 * jest and from dist/src/ after a build.
 */
export async function locateProjectRoot(from: string = __dirname): Promise<string> {
  for (let dir = from; ; dir = dirname(dir)) {
    if ((await pathExists(join(dir, 'package.json'))) && (await pathExists(join(dir, 'builders')))) return dir;
    if (dirname(dir) === dir) throw new Error(`no directory above ${from} holds package.json and builders/`);
  }
}

/** The toolchains of this installation: the running node, the project's node_modules and builders/, Rust under /usr. */
export async function defaultBuildToolchains(overrides: Partial<BuildToolchains> = {}): Promise<BuildToolchains> {
  const root = overrides.nodeModulesDir !== undefined && overrides.buildersDir !== undefined ? null : await locateProjectRoot();
  return {
    nodePrefix: overrides.nodePrefix ?? dirname(dirname(process.execPath)),
    nodeModulesDir: overrides.nodeModulesDir ?? join(root ?? '', 'node_modules'),
    buildersDir: overrides.buildersDir ?? join(root ?? '', 'builders'),
    rustToolchainPrefix: overrides.rustToolchainPrefix ?? '/usr',
  };
}

const installed = new Map<string, Promise<BuildToolchains>>();

/**
 * This installation's toolchains with the configured Rust prefix, located once per process (the project
 * root does not move while it runs): the build step and the builder reports ask on every build and tick.
 */
export function installedBuildToolchains(rustToolchainPrefix: string): Promise<BuildToolchains> {
  let toolchains = installed.get(rustToolchainPrefix);
  if (!toolchains) {
    toolchains = defaultBuildToolchains({ rustToolchainPrefix });
    installed.set(rustToolchainPrefix, toolchains);
    toolchains.catch(() => installed.delete(rustToolchainPrefix));
  }
  return toolchains;
}

const digestCache = new Map<string, Promise<string>>();

/** sha256 (hex) of a file, remembered while the file's identity, size and mtime stay the same (the node binary is large). */
export async function fileSha256(path: string): Promise<string> {
  const real = await realpath(path);
  const stats = await stat(real);
  const key = `${real}\0${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  let digest = digestCache.get(key);
  if (digest === undefined) {
    digest = (async () => {
      const hash = createHash('sha256');
      await pipeline(createReadStream(real), hash);
      return hash.digest('hex');
    })();
    digestCache.set(key, digest);
    digest.catch(() => digestCache.delete(key));
  }
  return digest;
}

/** purl of an npm package: the scope's @ is percent-encoded. */
export function npmPurl(name: string, version: string): string {
  return `pkg:npm/${name.replace(/^@/, '%40')}@${encodeURIComponent(version)}`;
}

/** An npm package under node_modules as a toolchain component (digest of its package.json); null when it is not installed. */
export async function npmPackageComponent(nodeModulesDir: string, name: string): Promise<ToolchainComponent | null> {
  const manifest = join(nodeModulesDir, name, 'package.json');
  try {
    const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version?: unknown };
    if (typeof version !== 'string') return null;
    return { name, version, uri: npmPurl(name, version), digest: { sha256: await fileSha256(manifest) } };
  } catch {
    return null;
  }
}

export async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, 1 /* X_OK */);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Runs one of our own toolchain binaries on the host to ask its version or sysroot: a trusted program,
 * with a scrubbed environment (no HOME, a CARGO_HOME that does not exist) and a time limit.
 */
export function toolOutput(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: `${dirname(file)}:/usr/bin:/bin`, ...env }, timeout: 15_000 });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`${file} ${args.join(' ')} failed (${signal ?? `exit code ${String(code)}`}): ${err.trim().slice(-300)}`));
    });
  });
}

/** The node that runs the builder scripts, as a component; throws with the reason when it is missing. */
export async function nodeComponent(nodePrefix: string): Promise<ToolchainComponent> {
  const node = join(nodePrefix, 'bin', 'node');
  if (!(await isExecutable(node))) throw new Error(`node: ${node} not found`);
  const running = (await realpath(node)) === (await realpath(process.execPath));
  const version = (running ? process.version : await toolOutput(node, ['--version'])).replace(/^v/, '');
  return { name: 'node', version, uri: `pkg:generic/node@${encodeURIComponent(version)}`, digest: { sha256: await fileSha256(node) } };
}

/**
 * The builder script the sandbox runs (builders/<name>), as a component: its digest pins exactly which
 * driver built the component. Null when it is missing.
 */
export async function builderScriptComponent(buildersDir: string, file: string): Promise<ToolchainComponent | null> {
  const path = join(buildersDir, file);
  if (!(await pathExists(path))) return null;
  // The package's version when builders/ sits in it; the digest is what pins the script either way.
  const version = await readFile(join(dirname(buildersDir), 'package.json'), 'utf8')
    .then((text) => (JSON.parse(text) as { version?: string }).version)
    .catch(() => undefined);
  const name = `wasm-signer/builders/${file}`;
  return {
    name,
    version: version ?? '0.0.0',
    uri: `pkg:generic/wasm-signer-builder-${file.replace(/\.mjs$/, '')}@${encodeURIComponent(version ?? '0.0.0')}`,
    digest: { sha256: await fileSha256(path) },
  };
}
