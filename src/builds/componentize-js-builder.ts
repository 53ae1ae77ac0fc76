import { join } from 'node:path';
import type { SandboxMount } from './build-sandbox';
import {
  BUILD_OUTPUT_DIR,
  BUILD_OUTPUT_FILE,
  nodeComponent,
  pathExists,
  nodeToolchainMounts,
  npmPackageComponent,
  SANDBOX_BUILDERS_DIR,
  SANDBOX_NODE_PREFIX,
  type BuilderSandboxPlan,
  type BuildToolchains,
  type ToolchainComponent,
} from './build-toolchains';
import type { ComponentizeJsOptions } from './builder-options';

/**
 * The componentize-js builder: a JS module and a WIT world become a component, by
 * @bytecodealliance/componentize-js run from builders/componentize-js.mjs inside the sandbox.
 *
 * componentize-js 0.23.0 imports @bytecodealliance/preview2-shim at run time but declares it only as a
 * development dependency, so npm installs it only where another package asks for it (nested under jco).
 * When node_modules has no top-level copy, jco's is mounted at /opt/node_modules/…, the next place node's
 * module lookup tries from /opt/wasm-signer/node_modules. (Adding @bytecodealliance/preview2-shim to
 * package.json would make this unnecessary.)
 */

export const COMPONENTIZE_JS_PACKAGE = '@bytecodealliance/componentize-js';
const PREVIEW2_SHIM = '@bytecodealliance/preview2-shim';
const JCO_NODE_MODULES = join('@bytecodealliance', 'jco', 'node_modules');

export interface ComponentizeJsInspection {
  reason: string | null;
  /** node, componentize-js, and the preview2-shim it runs with. */
  toolchain: ToolchainComponent[];
  /** The preview2-shim to mount where componentize-js finds it, when node_modules has no top-level one. */
  preview2ShimMount: SandboxMount | null;
}

export async function inspectComponentizeJs(toolchains: BuildToolchains): Promise<ComponentizeJsInspection> {
  const toolchain: ToolchainComponent[] = [];
  const reasons: string[] = [];
  try {
    toolchain.push(await nodeComponent(toolchains.nodePrefix));
  } catch (error) {
    reasons.push((error as Error).message);
  }
  const componentizeJs = await npmPackageComponent(toolchains.nodeModulesDir, COMPONENTIZE_JS_PACKAGE);
  if (componentizeJs === null) reasons.push(`componentize-js: ${join(toolchains.nodeModulesDir, COMPONENTIZE_JS_PACKAGE)} not found`);
  else toolchain.push(componentizeJs);
  let preview2ShimMount: SandboxMount | null = null;
  let preview2Shim = await npmPackageComponent(toolchains.nodeModulesDir, PREVIEW2_SHIM);
  if (preview2Shim === null) {
    preview2Shim = await npmPackageComponent(join(toolchains.nodeModulesDir, JCO_NODE_MODULES), PREVIEW2_SHIM);
    if (preview2Shim !== null)
      preview2ShimMount = { hostPath: join(toolchains.nodeModulesDir, JCO_NODE_MODULES, PREVIEW2_SHIM), sandboxPath: `/opt/node_modules/${PREVIEW2_SHIM}` };
  }
  if (preview2Shim === null) reasons.push(`componentize-js: ${PREVIEW2_SHIM}, which it imports, is not installed (neither top-level nor under jco)`);
  else toolchain.push(preview2Shim);
  if (!(await pathExists(join(toolchains.buildersDir, 'componentize-js.mjs')))) reasons.push(`componentize-js: ${join(toolchains.buildersDir, 'componentize-js.mjs')} not found`);
  return { reason: reasons.length > 0 ? reasons.join('; ') : null, toolchain, preview2ShimMount };
}

export function componentizeJsSandboxPlan(options: ComponentizeJsOptions, toolchains: BuildToolchains, inspection: ComponentizeJsInspection): BuilderSandboxPlan {
  const driverOptions = {
    entry: options.entry,
    wit: options.wit,
    ...(options.world === undefined ? {} : { world: options.world }),
    disableFeatures: options.disableFeatures,
    output: `/build/${BUILD_OUTPUT_DIR}/${BUILD_OUTPUT_FILE}`,
  };
  return {
    command: [`${SANDBOX_NODE_PREFIX}/bin/node`, `${SANDBOX_BUILDERS_DIR}/componentize-js.mjs`, JSON.stringify(driverOptions)],
    env: { PATH: `${SANDBOX_NODE_PREFIX}/bin:/usr/bin`, HOME: '/tmp', NO_COLOR: '1' },
    readOnlyMounts: [...nodeToolchainMounts(toolchains), ...(inspection.preview2ShimMount === null ? [] : [inspection.preview2ShimMount])],
  };
}
