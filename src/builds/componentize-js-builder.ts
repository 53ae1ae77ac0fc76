import { join } from 'node:path';
import {
  BUILD_OUTPUT_DIR,
  BUILD_OUTPUT_FILE,
  nodeComponent,
  nodeToolchainMounts,
  npmPackageComponent,
  SANDBOX_BUILDERS_DIR,
  SANDBOX_NODE_PREFIX,
  type BuilderSandboxPlan,
  type BuildToolchains,
  type ToolchainComponent,
  builderScriptComponent,
} from './build-toolchains';
import type { ComponentizeJsOptions } from './builder-options';

/**
 * The componentize-js builder: a JS module and a WIT world become a component, by
 * @bytecodealliance/componentize-js run from builders/componentize-js.mjs inside the sandbox.
 *
 * componentize-js 0.23.0 imports @bytecodealliance/preview2-shim at run time but declares it only as a
 * development dependency: package.json names it, so that it is installed where componentize-js finds it.
 */

export const COMPONENTIZE_JS_PACKAGE = '@bytecodealliance/componentize-js';
const PREVIEW2_SHIM = '@bytecodealliance/preview2-shim';

export interface ComponentizeJsInspection {
  reason: string | null;
  /** node, componentize-js, and the preview2-shim it runs with. */
  toolchain: ToolchainComponent[];
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
  const preview2Shim = await npmPackageComponent(toolchains.nodeModulesDir, PREVIEW2_SHIM);
  if (preview2Shim === null) reasons.push(`componentize-js: ${PREVIEW2_SHIM}, which it imports, is not installed`);
  else toolchain.push(preview2Shim);
  const script = await builderScriptComponent(toolchains.buildersDir, 'componentize-js.mjs');
  if (script === null) reasons.push(`componentize-js: ${join(toolchains.buildersDir, 'componentize-js.mjs')} not found`);
  else toolchain.push(script);
  return { reason: reasons.length > 0 ? reasons.join('; ') : null, toolchain };
}

export function componentizeJsSandboxPlan(options: ComponentizeJsOptions, toolchains: BuildToolchains): BuilderSandboxPlan {
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
    readOnlyMounts: nodeToolchainMounts(toolchains),
  };
}
