import type { GlobalSettings } from './command-line';
import type { ServiceClient } from './service-client';

/** What a command works with: the service, the settings, where it writes. */
export interface CommandContext {
  client: ServiceClient;
  settings: GlobalSettings;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}
