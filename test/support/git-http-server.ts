import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A git server on loopback for tests: bare repositories under a temporary directory, served over
 * smart HTTP by the real `git http-backend` (run as a CGI program per request, as a web server would),
 * so clients fetch with every protocol feature git has (v2, fetching a commit by id, shallow).
 *
 * `createRepository` commits the given files in one commit on `main` (built with plumbing commands, no
 * work tree: symbolic links and modes are exactly what the test asks for) and gives the URL to clone
 * and the commit id. `intercept` lets a test answer a request itself (a 5xx, a redirect).
 */
export interface GitRepositoryOptions {
  /** Symbolic links to create: path → target (any target, also one outside the tree). */
  symlinks?: Record<string, string>;
  /** Paths of `files` committed with mode 100755. */
  executables?: string[];
  objectFormat?: 'sha1' | 'sha256';
  /**
   * Where the commit goes: `refs/heads/main` by default. Another ref (`refs/pull/1/head`) makes a commit the
   * server holds and serves by id, but that no branch or tag of the repository contains.
   */
  ref?: string;
}

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  createRepository(name: string, files: Record<string, string | Buffer>, options?: GitRepositoryOptions): Promise<{ url: string; commit: string; tree: string }>;
  /** Every request received, as `METHOD /path?query`. */
  requests: string[];
  /** Answers requests itself when it returns true (the request then does not reach git). */
  intercept: ((request: IncomingMessage, response: ServerResponse) => boolean) | undefined;
  close(): Promise<void>;
}

/** Environment of every git the server runs: no system or user configuration, fixed identity and dates. */
function gitEnvironment(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Test',
    GIT_AUTHOR_EMAIL: 'test@example.com',
    GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
    GIT_COMMITTER_NAME: 'Test',
    GIT_COMMITTER_EMAIL: 'test@example.com',
    GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
  };
}

/** Runs git, feeding `input`, and resolves with its trimmed standard output (rejects on a non-zero exit). */
function git(args: string[], env: NodeJS.ProcessEnv, input?: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out).toString('utf8').trim()) : reject(new Error(`git ${args.join(' ')} exited with ${code}: ${Buffer.concat(err).toString('utf8')}`)),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

export async function startGitHttpServer(): Promise<GitHttpServer> {
  const root = mkdtempSync(join(tmpdir(), 'wasm-signer-git-server-'));
  const projects = join(root, 'repositories');
  const env = gitEnvironment(root);
  const sockets = new Set<Socket>();
  let intercept: GitHttpServer['intercept'];
  const requests: string[] = [];

  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (intercept?.(request, response)) return;
    serveWithHttpBackend(request, response, projects, env);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    get intercept() {
      return intercept;
    },
    set intercept(handler) {
      intercept = handler;
    },
    async createRepository(name, files, options = {}) {
      const gitDir = join(projects, `${name}.git`);
      await git(['init', '--quiet', '--bare', `--object-format=${options.objectFormat ?? 'sha1'}`, gitDir], env);
      const repoEnv = { ...env, GIT_DIR: gitDir, GIT_INDEX_FILE: join(gitDir, 'test-index') };
      const lines: string[] = [];
      for (const [path, content] of Object.entries(files)) {
        const blob = await git(['hash-object', '-w', '--stdin'], repoEnv, content);
        lines.push(`${options.executables?.includes(path) ? '100755' : '100644'} ${blob}\t${path}`);
      }
      for (const [path, target] of Object.entries(options.symlinks ?? {})) {
        lines.push(`120000 ${await git(['hash-object', '-w', '--stdin'], repoEnv, target)}\t${path}`);
      }
      await git(['update-index', '--add', '--index-info'], repoEnv, `${lines.join('\n')}\n`);
      const tree = await git(['write-tree'], repoEnv);
      const commit = await git(['commit-tree', tree, '-m', `test repository ${name}`], repoEnv);
      await git(['update-ref', options.ref ?? 'refs/heads/main', commit], repoEnv);
      await git(['symbolic-ref', 'HEAD', 'refs/heads/main'], repoEnv);
      return { url: `${url}/${name}.git`, commit, tree };
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Runs `git http-backend` for one request: CGI variables in, the request body on stdin, a CGI response (headers, blank line, body) out. */
function serveWithHttpBackend(request: IncomingMessage, response: ServerResponse, projects: string, env: NodeJS.ProcessEnv): void {
  const target = new URL(request.url ?? '/', 'http://localhost');
  const header = (name: string) => (typeof request.headers[name] === 'string' ? (request.headers[name] as string) : '');
  const child = spawn('git', ['http-backend'], {
    env: {
      ...env,
      GIT_PROJECT_ROOT: projects,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(target.pathname),
      REQUEST_METHOD: request.method ?? 'GET',
      QUERY_STRING: target.search.slice(1),
      CONTENT_TYPE: header('content-type'),
      CONTENT_LENGTH: header('content-length'),
      HTTP_CONTENT_ENCODING: header('content-encoding'),
      GIT_PROTOCOL: header('git-protocol'),
      REMOTE_ADDR: request.socket.remoteAddress ?? '127.0.0.1',
      SERVER_PROTOCOL: `HTTP/${request.httpVersion}`,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  request.pipe(child.stdin);
  child.stdin.on('error', () => undefined); // the backend may stop reading early
  child.stderr.resume();
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) return void response.write(chunk);
    head = Buffer.concat([head, chunk]);
    const text = head.toString('latin1');
    const end = text.search(/\r?\n\r?\n/);
    if (end < 0) return;
    let status = 200;
    for (const line of text.slice(0, end).split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    headersSent = true;
    const separator = /\r?\n\r?\n/.exec(text)!;
    response.write(head.subarray(end + separator[0].length));
  });
  child.once('close', () => {
    if (!headersSent) response.writeHead(502);
    response.end();
  });
  child.once('error', () => response.destroy());
}
