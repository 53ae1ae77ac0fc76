import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { writeFileAtomic } from '../../src/common/atomic-file';

export const REGISTRY_BINARY = 'docker-registry';

export interface LocalRegistryOptions {
  /** `<stateDir>/registry`: config.yml, data/, registry.log. */
  readonly dir: string;
  readonly host: string;
  readonly port: number;
  /** Explicit path of the registry binary; default: `docker-registry` found on PATH. */
  readonly binary?: string;
  readonly log: (message: string, fields?: Record<string, unknown>) => void;
  readonly readyTimeoutMs?: number;
}

export type RegistryState =
  /** This stack spawned the registry and stops it with the stack. */
  | 'started'
  /** Something already listened on the address; it is used as is. */
  | 'external'
  /** No registry binary was found and nothing listens: the stack runs without a registry. */
  | 'unavailable';

export interface LocalRegistry {
  readonly state: RegistryState;
  readonly address: string;
  stop(): Promise<void>;
}

/**
 * Runs Debian's `docker-registry` (distribution 2.8) on host:port when it is installed and nothing
 * listens there yet: filesystem storage under `<dir>/data`, deletes enabled, no auth, plain HTTP.
 */
export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const address = `${options.host}:${options.port}`;
  const noop = async () => undefined;
  if (await isListening(options.host, options.port)) {
    options.log('registry: something already listens there; using it', { address });
    return { state: 'external', address, stop: noop };
  }
  const binary = options.binary ?? (await findOnPath(REGISTRY_BINARY));
  if (!binary) {
    options.log(`registry: "${REGISTRY_BINARY}" not found on PATH (Debian package docker-registry); continuing without a local registry`, { address });
    return { state: 'unavailable', address, stop: noop };
  }

  const dataDir = join(options.dir, 'data');
  const configFile = join(options.dir, 'config.yml');
  const logFile = join(options.dir, 'registry.log');
  await mkdir(dataDir, { recursive: true });
  await writeFileAtomic(configFile, registryConfig(dataDir, address));

  const logHandle = await open(logFile, 'a');
  const child = spawn(binary, ['serve', configFile], {
    stdio: ['ignore', logHandle.fd, logHandle.fd],
    env: registryEnvironment(process.env),
  });
  await logHandle.close();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const ready = await Promise.race([
    waitForRegistry(address, options.readyTimeoutMs ?? 15_000).then((ok) => (ok ? 'ready' : 'timeout')),
    exited.then((code) => `exited with code ${code}`),
    spawnError.then((error) => `could not be started: ${error.message}`),
  ]);
  if (ready !== 'ready') {
    await stopChild(child, exited);
    throw new Error(`registry ${binary} ${ready === 'timeout' ? `did not answer on ${address}` : ready}; see ${logFile}:\n${await tail(logFile)}`);
  }
  options.log('registry: started', { address, pid: child.pid, config: configFile, log: logFile });
  return { state: 'started', address, stop: () => stopChild(child, exited) };
}

/** distribution 2.8 configuration; paths are JSON-quoted, which YAML reads as double-quoted strings. */
export function registryConfig(dataDir: string, address: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${JSON.stringify(address)}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    '',
  ].join('\n');
}

/**
 * distribution reads REGISTRY_<SECTION>_<KEY> variables as configuration overrides, so the service's
 * own REGISTRY_* settings (REGISTRY_INSECURE_HOSTS, …) must not reach it.
 */
function registryEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('REGISTRY_')));
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function isListening(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitForRegistry(address: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function tail(file: string, lines = 20): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
