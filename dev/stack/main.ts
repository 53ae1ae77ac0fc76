/**
 * Local supply-chain stack for development and tests (never production): an OIDC issuer, Fulcio,
 * Rekor, a timestamp authority and an OCI registry on 127.0.0.1.
 *
 *   npm run stack          (or: node dist/dev/stack/main.js)
 *
 * Logs one JSON line per event on stdout; SIGINT/SIGTERM stop everything and exit 0.
 */
import { startLocalStack, type RunningStack, type StackLog } from './local-stack';
import { stackConfigFromEnv } from './stack-config';

const log: StackLog = (message, fields) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields })}\n`);
};

async function main(): Promise<void> {
  const config = stackConfigFromEnv();
  let stack: RunningStack | undefined;
  let stopping = false;

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      log('second signal: exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    log('stopping', { signal });
    // Still starting: main() closes the stack as soon as it is up (a registry child may be spawning).
    if (!stack) return;
    stack.close().then(
      () => {
        log('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log('error while stopping', { error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  stack = await startLocalStack(config, log);
  if (stopping) {
    await stack.close();
    log('stopped');
    process.exit(0);
  }
  log('ready', {
    oidc: stack.urls.oidcIssuer,
    fulcio: stack.urls.fulcio,
    rekor: stack.urls.rekor,
    tsa: stack.urls.tsaTimestamp,
    registry: stack.registry && stack.registry.state !== 'unavailable' ? stack.urls.registry : null,
    stackEnv: stack.files.stackEnv,
  });
}

main().catch((error: unknown) => {
  log('failed to start', { error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
});
