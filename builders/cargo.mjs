// Builder script for cargo builds. It runs inside the build sandbox (src/builds/build-sandbox.ts), with
// the crate at /build, CARGO_HOME, RUSTC and PATH set by src/builds/cargo-builder.ts, and one argument:
// JSON { cargo, target, locked, package?, bin?, features, adapter?, output }.
// It picks the package and target from `cargo metadata`, runs `cargo build --offline --release`, and
// writes the component to `output`: the artifact itself for wasm32-wasip2, or for wasm32-wasip1 (and
// wasm32-wasi) the core module turned into a component with jco and the WASI preview1 adapter.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';

const COMPONENT_PREAMBLE = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

function log(line) {
  process.stdout.write(`[cargo] ${line}\n`);
}

/** Runs cargo with stderr going to the log; resolves with its exit code, handing each stdout line to onLine. */
function runCargo(cargo, args, onLine) {
  return new Promise((resolve, reject) => {
    const child = spawn(cargo, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    createInterface({ input: child.stdout }).on('line', onLine);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(signal === null ? code : `signal ${signal}`));
  });
}

async function cargoMetadata(cargo) {
  let json = '';
  const status = await runCargo(cargo, ['metadata', '--offline', '--no-deps', '--format-version', '1'], (line) => (json += line));
  if (status !== 0) throw new Error(`cargo metadata failed (${status})`);
  return JSON.parse(json);
}

function choosePackage(metadata, name) {
  const packages = metadata.packages;
  if (name !== undefined) {
    const named = packages.find((pkg) => pkg.name === name);
    if (named === undefined) throw new Error(`package ${name} is not in the workspace (it has ${packages.map((pkg) => pkg.name).join(', ')})`);
    return named;
  }
  if (packages.length === 1) return packages[0];
  const root = packages.find((pkg) => pkg.manifest_path === `${metadata.workspace_root}/Cargo.toml`);
  if (root !== undefined) return root;
  throw new Error(`the source is a workspace of ${packages.length} packages (${packages.map((pkg) => pkg.name).join(', ')}): name one with the "package" option`);
}

/** A binary makes a command; a cdylib library a reactor. */
function chooseTarget(pkg, binName) {
  const bins = pkg.targets.filter((target) => target.kind.includes('bin'));
  if (binName !== undefined) {
    const bin = bins.find((target) => target.name === binName);
    if (bin === undefined) throw new Error(`package ${pkg.name} has no binary ${binName} (it has ${bins.map((target) => target.name).join(', ') || 'none'})`);
    return { target: bin, kind: 'bin', args: ['--bin', bin.name], adapter: 'command' };
  }
  if (bins.length === 1) return { target: bins[0], kind: 'bin', args: ['--bin', bins[0].name], adapter: 'command' };
  if (bins.length > 1) throw new Error(`package ${pkg.name} has ${bins.length} binaries (${bins.map((target) => target.name).join(', ')}): name one with the "bin" option`);
  const lib = pkg.targets.find((target) => target.kind.includes('cdylib'));
  if (lib !== undefined) return { target: lib, kind: 'cdylib', args: ['--lib'], adapter: 'reactor' };
  throw new Error(`package ${pkg.name} has neither a binary nor a cdylib library (crate-type = ["cdylib"] under [lib]) to build`);
}

function isComponent(bytes) {
  return COMPONENT_PREAMBLE.every((byte, index) => bytes[index] === byte);
}

async function main() {
  const options = JSON.parse(process.argv[2] ?? '{}');
  const metadata = await cargoMetadata(options.cargo);
  const pkg = choosePackage(metadata, options.package);
  const chosen = chooseTarget(pkg, options.bin);
  const adapter = options.adapter ?? chosen.adapter;

  const args = ['build', '--offline', '--release', '--target', options.target, '--message-format=json-render-diagnostics', '--package', pkg.name, ...chosen.args];
  if (options.locked) args.push('--locked');
  if (options.features.length > 0) args.push('--features', options.features.join(','));
  log(`building ${pkg.name} ${pkg.version}, ${chosen.kind} ${chosen.target.name}, for ${options.target}: ${options.cargo} ${args.join(' ')}`);

  let artifact;
  const status = await runCargo(options.cargo, args, (line) => {
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      process.stdout.write(`${line}\n`);
      return;
    }
    if (message.reason === 'compiler-artifact' && message.package_id === pkg.id && message.target.name === chosen.target.name && message.target.kind.includes(chosen.kind)) {
      artifact = message.filenames.find((file) => file.endsWith('.wasm'));
    }
  });
  if (status !== 0) throw new Error(`cargo build failed (${status === null ? 'no exit code' : `exit code ${status}`})`);
  if (artifact === undefined) throw new Error(`cargo build reported no .wasm file for ${chosen.kind} ${chosen.target.name}`);

  let component = await readFile(artifact);
  if (!isComponent(component)) {
    if (options.target === 'wasm32-wasip2') throw new Error(`${artifact} is not a component`);
    log(`turning the ${options.target} module into a component with the WASI preview1 ${adapter} adapter (jco)`);
    const { componentNew, preview1AdapterCommandPath, preview1AdapterReactorPath } = await import('@bytecodealliance/jco');
    const adapterBytes = await readFile(adapter === 'command' ? preview1AdapterCommandPath() : preview1AdapterReactorPath());
    component = Buffer.from(await componentNew(component, [['wasi_snapshot_preview1', adapterBytes]]));
  }
  await mkdir(dirname(options.output), { recursive: true });
  await writeFile(options.output, component);
  log(`wrote the component (${component.length} bytes)`);
}

main().catch((error) => {
  process.stderr.write(`[cargo] build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
