import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support/test-environment';

/**
 * A user's clone has no sibling folders: nothing the tests, scripts, benchmarks or the service read may
 * lie outside the repository. This reads every tracked source and script file for a path that climbs
 * out of the repository root (`../<folder>` from the root, or `resolve(REPO_ROOT, '..')`).
 */
describe('the repository stands alone', () => {
  const tracked = execFileSync('git', ['ls-files', '-z', '--', 'src', 'test', 'dev', 'bench', 'scripts', '.ci', 'package.json', 'jest.config.js'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => /\.(ts|mjs|js|sh|json)$|^\.ci\//.test(file) && !file.startsWith('test/fixtures/') && file !== 'test/self-contained.e2e-spec.ts');

  // A path from the repository root to a sibling folder, written any of the usual ways.
  const climbsOut = [/REPO_ROOT,\s*['"`]\.\.(\/|['"`])/, /['"`]\.\.\/shared\b/, /\$\(dirname "\$0"\)\/\.\.\/\.\./, /\.\.\/\.\.\/shared\b/];

  it('finds the files it checks', () => {
    expect(tracked.length).toBeGreaterThan(100);
    expect(tracked).toContain('test/conformance.e2e-spec.ts');
  });

  it('has no file that reads a folder beside the repository', () => {
    const offenders = tracked.flatMap((file) => {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      return climbsOut.filter((pattern) => pattern.test(text)).map((pattern) => `${file}: ${pattern}`);
    });
    expect(offenders).toEqual([]);
  });

  it('keeps the test vectors it needs, with their licence and origin', () => {
    const readme = readFileSync(join(REPO_ROOT, 'test/fixtures/sigstore-conformance/README.md'), 'utf8');
    expect(readme).toMatch(/sigstore-conformance/);
    expect(readme).toMatch(/commit\s+[0-9a-f]{40}/);
    expect(readFileSync(join(REPO_ROOT, 'test/fixtures/sigstore-conformance/LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });
});
