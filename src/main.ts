import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { checkTrustedPublishersFile } from './auth/trusted-publishers';
import { ConfigError } from './config/config-error';
import { type AppConfig, loadConfig } from './config/config.schema';
import { LifecycleState } from './lifecycle/lifecycle-state';

/** Exit status for a configuration error (sysexits EX_CONFIG). */
const EXIT_CONFIG = 78;

async function main(): Promise<void> {
  let config: AppConfig;
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    config = loadConfig();
    checkTrustedPublishersFile(config);
    // Modules read the files the configuration names as they are built; one changed since is refused too.
    app = await createApp(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`wasm-signer: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }

  await app.listen({ port: config.http.port, host: config.http.host });
  const logger = new Logger('main');
  logger.log({ role: config.role, url: await app.getUrl() }, 'wasm-signer started');

  // SIGTERM/SIGINT drain: readiness goes red and new jobs are refused; the HTTP server stops accepting
  // connections and finishes the requests in flight; workers finish active jobs within
  // SHUTDOWN_TIMEOUT_MS; then Redis and the database are closed and the process exits 0.
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log({ signal }, 'shutting down');
    app.get(LifecycleState).beginDraining();
    const hardStop = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 15_000);
    hardStop.unref();
    try {
      await app.getHttpAdapter().getInstance().close();
      await app.close();
      logger.log('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}

main().catch((error: unknown) => {
  process.stderr.write(`wasm-signer: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
