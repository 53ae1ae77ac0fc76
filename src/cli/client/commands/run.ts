import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandSpec } from '../command-line';
import { positiveIntegerOption } from '../command-line';
import { runCommandComponent } from '../component-runner';
import type { CommandContext } from '../context';
import { CliError, ExitCode } from '../exit-codes';
import { printVerification } from '../output';
import { parsePinnedReference, pullWasmLayer } from '../registry-pull';
import { checkPolicyOptions, POLICY_OPTIONS, POLICY_OPTIONS_HELP, verifyThroughService } from './verify';

/**
 * `run`: verify before run, as one command. The service verifies the reference against the policy;
 * only a `verified: true` answer goes on: the manifest is pulled by the digest that was verified, the
 * wasm layer by the digest in it, both checked, and the component is run with jco. Nothing runs otherwise.
 */
export const runCommand: CommandSpec<CommandContext> = {
  words: ['run'],
  usage: 'run REFERENCE --certificate-identity[-regexp] … --certificate-oidc-issuer[-regexp] … [-- ARGS…]',
  summary: 'verify through the service, pull the verified component by digest, check it and run it (WASI 0.2 command)',
  optionsHelp: `${POLICY_OPTIONS_HELP}
  --plain-http                        pull over HTTP (loopback registries always are)
  --max-bytes N                       the largest component pulled (default 268435456)
Arguments after -- are the component's. The exit status is the component's once it runs. Pulls are
anonymous; the component gets jco's default WASI host (environment, standard streams, file system).`,
  options: { ...POLICY_OPTIONS, 'plain-http': { type: 'boolean' }, 'max-bytes': { type: 'string' } },
  positionals: ['REFERENCE'],
  passThrough: true,
  check: (values) => {
    checkPolicyOptions(values);
    positiveIntegerOption(values, 'max-bytes', 0);
  },
  async run(context, { values, positionals, passThrough }) {
    const verification = await verifyThroughService(context, positionals[0]!, values);
    const log = (line: string) => context.stderr.write(`${line}\n`);
    if (context.settings.output === 'json') log(JSON.stringify(verification));
    else printVerification({ ...context, stdout: context.stderr }, verification);
    if (verification.verified !== true) {
      log(`not run: ${positionals[0]} did not pass verification${verification.error ? ` (${verification.error.code})` : ''}`);
      return ExitCode.Failed;
    }
    const pinned = parsePinnedReference(verification.reference);
    if (pinned.digest !== verification.digest) throw new CliError(`the verification names ${verification.reference} but digest ${verification.digest}: not run`, ExitCode.Failed);
    const dir = await mkdtemp(join(tmpdir(), 'wasm-signer-run-'));
    try {
      const file = join(dir, 'component.wasm');
      const pulled = await pullWasmLayer(pinned, file, {
        plainHttp: values['plain-http'] === true,
        timeoutMs: context.settings.timeoutMs,
        maxBytes: positiveIntegerOption(values, 'max-bytes', 256 * 1024 * 1024),
      });
      if (context.settings.output === 'text') log(`running ${verification.reference} (wasm ${pulled.layerDigest}, ${pulled.size} bytes)`);
      return await runCommandComponent(file, passThrough);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
