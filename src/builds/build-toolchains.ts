import { dirname, join } from 'node:path';
import type { AppConfig } from '../config/config.schema';
import { packageRoot } from './package-root';
import type { BuildToolchains } from './builders';

/** Where this process finds what the builders mount into the sandbox: its own Node.js, the packages, the driver scripts, the Rust toolchain. */
export function buildToolchains(config: AppConfig): BuildToolchains {
  const root = packageRoot();
  return {
    nodePrefix: dirname(dirname(process.execPath)),
    nodeModulesDir: join(root, 'node_modules'),
    buildersDir: join(root, 'builders'),
    rustToolchainPrefix: config.builds.rustToolchainPrefix,
  };
}
