import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HEALTH_PATH, STACK_HEALTH_MARKER } from './http-service';
import { findRepoRoot, stackConfigFromEnv, stackFiles, stackUrls, type StackConfig } from './stack-config';
import { readStackEnv } from './stack-env';

export { formatStackEnv, parseStackEnv, readStackEnv } from './stack-env';

export interface EnsureLocalStackOptions {
  /** Repository root (default: found from this file). */
  readonly repoRoot?: string;
  readonly log?: (message: string) => void;
  /**
   * Extra environment for the stack (STACK_DIR, STACK_*_PORT, …), layered over process.env. Used to
   * run a private stack beside the shared one.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for a spawned stack to become ready (default 60 s). */
  readonly readyTimeoutMs?: number;
}

export interface LocalStackHandle {
  /** The variables of stack.env. */
  readonly env: Record<string, string>;
  /** True when this call spawned the stack (then stop() stops it); false when it was already running. */
  readonly started: boolean;
  stop(): Promise<void>;
}

type Probe = { state: 'ready' } | { state: 'starting' } | { state: 'down' } | { state: 'foreign'; detail: string };

const SERVICES = ['oidc', 'fulcio', 'rekor', 'tsa'] as const;
const POLL_MS = 200;
const STOP_TIMEOUT_MS = 10_000;
/** stack.log is started afresh when it grew past this. */
const MAX_LOG_BYTES = 5 * 1024 * 1024;

/**
 * Makes sure the local stack is up: reuses a running one (its health endpoints answer and stack.env
 * exists), or spawns `dist/dev/stack/main.js` (when built) or `dev/stack/main.ts` through tsx and waits
 * until it is ready. The child is detached from the caller's event loop (it does not keep the caller
 * alive); its output goes to `<STACK_DIR>/stack/stack.log`.
 */
export async function ensureLocalStack(options: EnsureLocalStackOptions = {}): Promise<LocalStackHandle> {
  const repoRoot = options.repoRoot ?? findRepoRoot();
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  const config = stackConfigFromEnv(env, repoRoot);
  const files = stackFiles(config);
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.readyTimeoutMs ?? 60_000;

  const probes = await probeAll(config);
  const states = Object.values(probes).map((p) => p.state);
  const foreign = Object.entries(probes).filter(([, p]) => p.state === 'foreign');
  if (foreign.length > 0) {
    throw new Error(`local stack ports are taken by something else: ${foreign.map(([name, p]) => `${name} (${(p as { detail: string }).detail})`).join(', ')}`);
  }
  if (states.every((s) => s === 'ready') && !existsSync(files.stackEnv)) {
    // A stack writes its stack.env before it answers ready: this one belongs to another folder.
    throw new Error(
      `a local stack already answers on ${stackUrls(config).fulcio} (and the other stack ports), but its stack.env is not in ${dirname(files.stackEnv)}: ` +
        'it was started from another checkout or another STACK_DIR. Set STACK_DIR to that folder (the one holding its stack.env), ' +
        'or stop that stack, or give this one other ports (STACK_OIDC_PORT, STACK_FULCIO_PORT, STACK_REKOR_PORT, STACK_TSA_PORT, STACK_REGISTRY_PORT).',
    );
  }
  if (states.every((s) => s !== 'down')) {
    // Up (or still starting, spawned by someone else): wait for it, do not spawn a second one.
    await waitUntilReady(config, files.stackEnv, timeoutMs, undefined);
    log(`local stack already running (${stackUrls(config).fulcio}); using ${files.stackEnv}`);
    return { env: await readStackEnv(files.stackEnv), started: false, stop: async () => undefined };
  }
  if (states.some((s) => s !== 'down')) {
    const up = Object.entries(probes)
      .filter(([, p]) => p.state !== 'down')
      .map(([name]) => name);
    const down = Object.entries(probes)
      .filter(([, p]) => p.state === 'down')
      .map(([name]) => name);
    throw new Error(`local stack is partly up (${up.join(', ')} answer; ${down.join(', ')} do not); stop the old stack process and retry`);
  }

  const { command, args } = stackCommand(repoRoot);
  await mkdir(dirname(files.stackLog), { recursive: true });
  const previousSize = await fileSize(files.stackLog);
  const logHandle = await open(files.stackLog, previousSize > MAX_LOG_BYTES ? 'w' : 'a');
  const logStart = previousSize > MAX_LOG_BYTES ? 0 : previousSize;
  await logHandle.write(`--- ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
  // Its own process group: a terminal's Ctrl-C reaches the caller (and the service it runs) but not the
  // stack, which the caller stops only after the service has drained (a job signing on its way down
  // still finds Fulcio and Rekor).
  const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['ignore', logHandle.fd, logHandle.fd], detached: true });
  await logHandle.close();
  log(`starting local stack (pid ${child.pid}): ${[command, ...args].join(' ')}; log: ${files.stackLog}`);

  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
    child.once('error', (error) => resolve(`spawn error: ${error.message}`));
  });
  try {
    await waitUntilReady(config, files.stackEnv, timeoutMs, { exited, logFile: files.stackLog, logStart });
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  }
  child.unref();
  log(`local stack ready (${stackUrls(config).fulcio})`);
  return {
    env: await readStackEnv(files.stackEnv),
    started: true,
    stop: () => stopChild(child, exited),
  };
}

/** node + compiled main.js when the project was built, else node + tsx + main.ts. */
function stackCommand(repoRoot: string): { command: string; args: string[] } {
  const compiled = join(repoRoot, 'dist', 'dev', 'stack', 'main.js');
  if (existsSync(compiled)) return { command: process.execPath, args: [compiled] };
  const tsxCli = require.resolve('tsx/cli', { paths: [repoRoot] });
  return { command: process.execPath, args: [tsxCli, join(repoRoot, 'dev', 'stack', 'main.ts')] };
}

async function probeAll(config: StackConfig): Promise<Record<(typeof SERVICES)[number], Probe>> {
  const urls = stackUrls(config);
  const bases = { oidc: urls.oidcIssuer, fulcio: urls.fulcio, rekor: urls.rekor, tsa: urls.tsa };
  const entries = await Promise.all(SERVICES.map(async (name) => [name, await probe(bases[name], name)] as const));
  return Object.fromEntries(entries) as Record<(typeof SERVICES)[number], Probe>;
}

async function probe(baseUrl: string, service: string): Promise<Probe> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}${HEALTH_PATH}`, { signal: AbortSignal.timeout(2_000) });
  } catch {
    return { state: 'down' };
  }
  let body: { stack?: unknown; service?: unknown; status?: unknown } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // not JSON: not ours
  }
  if (body.stack !== STACK_HEALTH_MARKER || body.service !== service) {
    return { state: 'foreign', detail: `${baseUrl}${HEALTH_PATH} answered HTTP ${response.status} without the local stack's health body` };
  }
  return response.status === 200 ? { state: 'ready' } : { state: 'starting' };
}

async function waitUntilReady(
  config: StackConfig,
  stackEnvFile: string,
  timeoutMs: number,
  spawned: { exited: Promise<string>; logFile: string; logStart: number } | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  void spawned?.exited.then((how) => (exitedWith = how));
  let probes = await probeAll(config);
  for (;;) {
    const notReady = Object.entries(probes).filter(([, p]) => p.state !== 'ready');
    if (notReady.length === 0 && existsSync(stackEnvFile)) return;
    if (spawned && exitedWith !== undefined) {
      throw new Error(`local stack exited (${exitedWith}) before it was ready; last lines of ${spawned.logFile}:\n${await logTail(spawned.logFile, spawned.logStart)}`);
    }
    if (Date.now() > deadline) {
      const urls = stackUrls(config);
      const bases: Record<string, string> = { oidc: urls.oidcIssuer, fulcio: urls.fulcio, rekor: urls.rekor, tsa: urls.tsa };
      const missing = notReady.map(([name, p]) => `${name} (${bases[name]}${HEALTH_PATH}: ${p.state})`);
      if (notReady.length === 0) missing.push(`${stackEnvFile} was not written`);
      const tailText = spawned ? `\nlast lines of ${spawned.logFile}:\n${await logTail(spawned.logFile, spawned.logStart)}` : '';
      throw new Error(`local stack not ready after ${Math.round(timeoutMs / 1000)} s: ${missing.join(', ')}${tailText}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    probes = await probeAll(config);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // Keep this process alive until the child is gone (it was unref'd once ready).
  child.ref();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

async function logTail(file: string, from: number, lines = 30): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '(no log)';
  try {
    const { size } = await handle.stat();
    const start = Math.max(from, size - 64 * 1024);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await handle.close();
  }
}
