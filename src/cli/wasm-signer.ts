#!/usr/bin/env node
/**
 * `wasm-signer`: the command-line client of the service, for pipelines (`npx wasm-signer …`, or
 * `node dist/src/cli/wasm-signer.js` in the image). It speaks HTTP to a running service only; see
 * `wasm-signer --help` and README "Command line".
 */
import { main } from './client/main';

void main({ argv: process.argv.slice(2), env: process.env, stdout: process.stdout, stderr: process.stderr }).then((status) => {
  process.exitCode = status;
});
