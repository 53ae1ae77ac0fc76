import { spawnSync } from 'node:child_process';

/**
 * Whether a command-line tool runs (`tool ...args` exits 0). Locally a test may skip what needs a
 * missing tool; under CI (CI set) the tool is required, since `.ci/run` installs every one of them, so
 * a missing tool is an error naming it instead of a quietly skipped test.
 */
export function hasTool(tool: string, args: readonly string[], debianPackage = tool): boolean {
  const found = spawnSync(tool, args, { stdio: 'ignore' }).status === 0;
  if (!found && process.env.CI) {
    throw new Error(`${tool} is required when CI is set, and it is missing (Debian: apt-get install ${debianPackage}; .ci/run installs it)`);
  }
  return found;
}
