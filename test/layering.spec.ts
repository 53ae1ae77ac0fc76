import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

/**
 * The checks `npm test` runs before the tests (lint, format, layering) fail when the rules are broken:
 * each is run against small fixture files that break one rule each, and must report it.
 */
const ROOT = resolve(__dirname, '..');
const NODE_MODULES = join(ROOT, 'node_modules');

/** Runs a tool's command-line entry with the Node that runs the tests (the tools need Node 22+). */
const tool = (script: string, args: string[], cwd = ROOT) =>
  spawnSync(process.execPath, [join(NODE_MODULES, script), ...args], { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

function depcruise(): { status: number | null; violations: Violation[] } {
  const run = (outputType: string) =>
    tool(
      'dependency-cruiser/bin/dependency-cruiser.mjs',
      ['src', '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', outputType],
      join(ROOT, 'test/fixtures/layering'),
    );
  const output = JSON.parse(run('json').stdout) as { summary: { violations: Violation[] } };
  // The json report always exits 0; the report `npm run depcruise` prints exits with the error count.
  return { status: run('err').status, violations: output.summary.violations };
}

describe('dependency rules (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  let result: { status: number | null; violations: Violation[] };
  beforeAll(() => {
    result = depcruise();
  });

  it('fails the run', () => {
    expect(result.status).not.toBe(0);
  });

  it('reports an upward import: a library importing the engine', () => {
    expect(result.violations).toContainEqual(
      expect.objectContaining({ rule: expect.objectContaining({ name: 'library-imports-upward' }), from: 'src/registry/registry-client.ts', to: 'src/pipeline/job-queue.ts' }),
    );
  });

  it('reports a cross-feature import', () => {
    expect(result.violations).toContainEqual(
      expect.objectContaining({ rule: expect.objectContaining({ name: 'cross-feature-import' }), from: 'src/signing/signer.ts', to: 'src/verification/verifier.ts' }),
    );
  });

  it('reports a library importing Nest or an HTTP problem type', () => {
    const named = result.violations.filter((v) => v.rule.name === 'library-imports-framework' && v.from === 'src/x509/certificate.ts').map((v) => v.to);
    expect(named).toContain('src/common/problem.ts');
    expect(named.some((to) => to.includes('@nestjs/common'))).toBe(true);
  });

  it('reports an import cycle between two folders', () => {
    const cycles = result.violations.filter((v) => v.rule.name === 'folder-cycle');
    expect(cycles.map((v) => [v.from, v.to]).flat()).toEqual(expect.arrayContaining(['src/config', 'src/database']));
  });

  it('reports nothing about the imports that follow the rules', () => {
    // Every reported import comes from a file (or folder) that breaks a rule on purpose.
    const breaking = ['src/config', 'src/database', 'src/registry/registry-client.ts', 'src/signing/signer.ts', 'src/x509/certificate.ts'];
    expect(result.violations.map((v) => v.from).filter((from) => !breaking.includes(from))).toEqual([]);
  });
});

describe('lint (eslint.config.mjs)', () => {
  it('reports an unused variable', () => {
    // Fixtures are ignored by `npm run lint`; --no-ignore checks this one.
    const run = tool('eslint/bin/eslint.js', ['--no-ignore', '--format', 'json', 'test/fixtures/lint/unused-variable.ts']);
    expect(run.status).not.toBe(0);
    const [report] = JSON.parse(run.stdout) as { messages: { ruleId: string | null }[] }[];
    expect(report!.messages.map((m) => m.ruleId)).toContain('@typescript-eslint/no-unused-vars');
  });
});

describe('format (Prettier, .prettierrc.json)', () => {
  it('reports a file not formatted the project way', () => {
    // Fixtures are ignored by `npm run format:check` (.prettierignore); with .gitignore as the ignore file they are checked.
    const run = tool('prettier/bin/prettier.cjs', ['--check', '--ignore-path', join(ROOT, '.gitignore'), 'test/fixtures/lint/badly-formatted.ts']);
    expect(run.status).not.toBe(0);
    expect(run.stdout + run.stderr).toContain('badly-formatted.ts');
  });
});
