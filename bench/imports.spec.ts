import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/**
 * The benchmarks reach the service over HTTP and the library only through its exported surface,
 * src/index.ts: internal modules can then move or change without breaking them.
 */
const ROOT = resolve(__dirname, '..');
const BENCH = join(ROOT, 'bench');
const SRC = join(ROOT, 'src');
const ALLOWED = new Set([SRC, join(SRC, 'index'), join(SRC, 'index.ts'), join(SRC, 'index.js')]);

/** Every module specifier of a file: static imports and re-exports, `import()` and `require()`. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
}

/** The specifiers of `text` (a file at `path`) that reach into src/ other than src/index. */
function internalImports(path: string, text: string): string[] {
  return specifiers(text).filter((specifier) => {
    if (!specifier.startsWith('.')) return false;
    const target = resolve(dirname(path), specifier);
    return (target === SRC || target.startsWith(SRC + sep)) && !ALLOWED.has(target);
  });
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('bench/ imports from src/ only its library surface (src/index.ts)', () => {
  it('finds no import of an internal module in any file under bench/', () => {
    const files = tsFiles(BENCH);
    expect(files.length).toBeGreaterThan(5);
    const offending = files.flatMap((path) => internalImports(path, readFileSync(path, 'utf8')).map((specifier) => `${relative(ROOT, path)}: ${specifier}`));
    expect(offending).toEqual([]);
  });

  it('uses src/index.ts, which exists', () => {
    const users = tsFiles(BENCH).filter((path) => specifiers(readFileSync(path, 'utf8')).some((s) => s.startsWith('.') && ALLOWED.has(resolve(dirname(path), s))));
    expect(users.length).toBeGreaterThan(0);
    expect(readFileSync(join(SRC, 'index.ts'), 'utf8')).toContain('export');
  });

  it('catches every way a file can reach an internal module', () => {
    const file = join(BENCH, 'support', 'example.ts');
    const text = [
      "import { RegistryClient } from '../../src/registry/registry-client';",
      "import type { OciRepository } from '../../src/registry/oci-reference';",
      "export { WasmInspector } from '../../src/wasm/wasm-inspector';",
      "const lazy = () => import('../../src/verification/signature-discovery');",
      "const old = require('../../src/main');",
      "import { parseRepository } from '../../src/index';",
      "import { parseRepository as again } from '../../src';",
      "import { internals } from '../../src/index/more';",
      "import { join } from 'node:path';",
      "import { report } from './report';",
    ].join('\n');
    expect(internalImports(file, text)).toEqual([
      '../../src/registry/registry-client',
      '../../src/registry/oci-reference',
      '../../src/wasm/wasm-inspector',
      '../../src/verification/signature-discovery',
      '../../src/main',
      '../../src/index/more',
    ]);
  });
});
