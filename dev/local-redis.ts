import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';

/**
 * Makes sure a Redis answers at `url` for development and tests: when nothing listens there and
 * `redis-server` is installed, starts one (in memory only) that stop() ends.
 */
export async function ensureLocalRedis(url: string, log: (message: string) => void = () => undefined): Promise<{ started: boolean; stop(): Promise<void> }> {
  if (await isListening(url)) return { started: false, stop: async () => undefined };
  const { hostname, port } = new URL(url);
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(`Redis is not running at ${url} and redis-server is not installed (Debian: apt-get install redis-server).`);
  }
  log(`starting redis-server on ${hostname}:${port || 6379}`);
  // Its own process group, like the local stack: Ctrl-C in a terminal must not stop Redis before the
  // service that uses it has drained.
  const child = spawn('redis-server', ['--bind', hostname, '--port', port || '6379', '--save', '', '--appendonly', 'no'], { stdio: 'ignore', detached: true });
  const deadline = Date.now() + 10_000;
  while (!(await isListening(url))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start at ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { started: true, stop: () => stopChild(child) };
}

export function isListening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
