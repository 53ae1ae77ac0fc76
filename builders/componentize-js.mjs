// Builder script for componentize-js builds. It runs inside the build sandbox (src/builds/build-sandbox.ts),
// with the source at /build and node_modules at /opt/wasm-signer/node_modules, and is started by
// src/builds/builders.ts with one argument: JSON { entry, wit, world?, disableFeatures, output }.
// It componentizes the JS module against the WIT world and writes the component to `output`.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import process from 'node:process';

const SOURCE_DIR = '/build';

function log(line) {
  process.stdout.write(`[componentize-js] ${line}\n`);
}

async function expectPath(path, what, kind) {
  let stats;
  try {
    stats = await stat(path);
  } catch {
    throw new Error(`${what} not found in the source`);
  }
  if (kind === 'file' && !stats.isFile()) throw new Error(`${what} is not a file`);
}

/** componentize-js only counts the parse errors of the entry: parse it again with its parser (oxc) to show them. */
async function printSyntaxErrors(path, name) {
  try {
    const { parseSync } = await import('oxc-parser');
    for (const error of parseSync(name, await readFile(path, 'utf8')).errors) process.stderr.write(error.codeframe ?? `${name}: ${error.message}\n`);
  } catch {
    // the message componentize-js gave is all there is
  }
}

async function main() {
  const options = JSON.parse(process.argv[2] ?? '{}');
  const entry = join(SOURCE_DIR, options.entry);
  const wit = join(SOURCE_DIR, options.wit);
  await expectPath(entry, `entry ${options.entry}`, 'file');
  await expectPath(wit, `WIT ${options.wit}`, 'any');

  // componentize-js 0.23 reads the WIT through @bytecodealliance/preview2-shim's filesystem, which from
  // 0.26 on preopens nothing unless told to: give it the sandbox's root, as older versions did.
  const shimFilesystem = await import('@bytecodealliance/preview2-shim/filesystem');
  if (typeof shimFilesystem._setPreopens === 'function') shimFilesystem._setPreopens({ '/': '/' });
  const { componentize } = await import('@bytecodealliance/componentize-js');

  const world = options.world === undefined ? '' : `, world ${options.world}`;
  const disabled = options.disableFeatures.length === 0 ? '' : `, without ${options.disableFeatures.join(', ')}`;
  log(`componentizing ${options.entry} against ${options.wit}${world}${disabled}`);
  let component;
  try {
    ({ component } = await componentize({
      sourcePath: entry,
      witPath: wit,
      worldName: options.world,
      disableFeatures: options.disableFeatures,
      // componentize-js gives its wizer child only this environment; wizer needs a HOME.
      env: { HOME: '/tmp' },
    }));
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('failed to parse JS source')) await printSyntaxErrors(entry, options.entry);
    throw error;
  }
  await mkdir(dirname(options.output), { recursive: true });
  await writeFile(options.output, component);
  log(`wrote the component (${component.length} bytes)`);
}

main().catch((error) => {
  process.stderr.write(`[componentize-js] build failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
