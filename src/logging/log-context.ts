import { PinoLogger } from 'nestjs-pino';
import { Store, storage } from 'nestjs-pino/storage';

/**
 * Runs `work` with every log line written inside it (through Nest's Logger, which nestjs-pino routes
 * to pino) carrying `bindings`, e.g. the job ID and step of a pipeline step. Uses nestjs-pino's own
 * async context, the one that gives a request's log lines its request ID. Without pino (a quiet
 * application, unit tests) `work` simply runs.
 */
export function withLogContext<T>(bindings: Record<string, unknown>, work: () => T): T {
  const parent = storage.getStore()?.logger ?? (PinoLogger.root as typeof PinoLogger.root | undefined);
  if (!parent) return work();
  return storage.run(new Store(parent.child(bindings)), work);
}
