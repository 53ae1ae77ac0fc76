import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GitHttpServer, startGitHttpServer } from '../../test/support/git-http-server';
import { freePort } from '../../test/support/service-process';
import { AddressAllowlist } from '../common/address-policy';
import { HostPatterns } from '../common/host-patterns';
import { GitSourceError } from './git-source-errors';
import { fetchGitSource, type GitFetchOptions, type GitSource, parseGitSource } from './git-source';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const hosts = (...patterns: string[]) => new HostPatterns(patterns, 'TEST_GIT_HOSTS');

function refusalOf(action: () => unknown): { code: string; message: string; transient: boolean } {
  try {
    action();
  } catch (error) {
    if (!(error instanceof GitSourceError)) throw error;
    return { code: error.code, message: error.message, transient: error.transient };
  }
  throw new Error('not refused');
}

describe('parseGitSource', () => {
  const allowed = hosts('github.com', 'git.example.com:8080', '127.0.0.1', '[::1]:9418');

  it('accepts https:// and http:// URLs to allowed hosts with a full commit id', () => {
    expect(parseGitSource({ url: 'https://github.com/owner/repo.git', commit: COMMIT }, allowed)).toEqual({
      url: 'https://github.com/owner/repo.git',
      host: 'github.com',
      port: 443,
      commit: COMMIT,
      objectFormat: 'sha1',
    });
    expect(parseGitSource({ url: 'HTTP://Git.Example.com:8080/a/b', commit: 'a'.repeat(64) }, allowed)).toEqual({
      url: 'http://git.example.com:8080/a/b',
      host: 'git.example.com',
      port: 8080,
      commit: 'a'.repeat(64),
      objectFormat: 'sha256',
    });
    expect(parseGitSource({ url: 'http://[::1]:9418/r.git', commit: COMMIT }, allowed)).toMatchObject({ host: '::1', port: 9418 });
  });

  it('says git sources are disabled when no host is allowed', () => {
    expect(refusalOf(() => parseGitSource({ url: 'https://github.com/a/b', commit: COMMIT }, hosts()))).toMatchObject({ code: 'GIT_SOURCES_DISABLED' });
  });

  it('refuses hosts (and ports) that are not allowed', () => {
    for (const url of ['https://gitlab.com/a/b', 'https://github.com.evil.example/a/b', 'https://git.example.com/a/b', 'https://git.example.com:8081/a/b', 'https://127.0.0.2/r']) {
      expect({ url, ...refusalOf(() => parseGitSource({ url, commit: COMMIT }, allowed)) }).toMatchObject({ url, code: 'GIT_HOST_NOT_ALLOWED' });
    }
  });

  it('refuses other transports, option-like values, credentials and malformed URLs', () => {
    for (const url of [
      'ext::sh -c touch% /tmp/pwned',
      'ext::sh',
      'file:///etc',
      'file://github.com/a/b',
      'ssh://git@github.com/a/b.git',
      'git://github.com/a/b.git',
      'git@github.com:a/b.git',
      '-uhttps://github.com/a/b',
      '--upload-pack=touch /tmp/pwned',
      'https://user:token@github.com/a/b',
      'https://token@github.com/a/b',
      'https://@github.com/a/b',
      'https://github.com/a/b?x=1',
      'https://github.com/a b',
      'https://github.com/a\nb',
      'https://',
      '',
      `https://github.com/${'a'.repeat(3000)}`,
    ]) {
      expect({ url, ...refusalOf(() => parseGitSource({ url, commit: COMMIT }, allowed)) }).toMatchObject({ url, code: 'GIT_URL_INVALID' });
    }
    expect(refusalOf(() => parseGitSource({ url: 'https://user:secret@github.com/a/b', commit: COMMIT }, allowed)).message).toContain('credentials');
  });

  it('requires a full lower-case commit id, never a branch, tag or short id', () => {
    for (const commit of ['main', 'HEAD', 'refs/heads/main', 'v1.0.0', '0123456', COMMIT.slice(1), COMMIT.toUpperCase(), `${COMMIT}0`, '', `-${COMMIT.slice(1)}`]) {
      const refusal = refusalOf(() => parseGitSource({ url: 'https://github.com/a/b', commit }, allowed));
      expect({ commit, code: refusal.code }).toEqual({ commit, code: 'GIT_COMMIT_NOT_FULL' });
      expect(refusal.message).toContain('a full commit id is required');
    }
  });
});

describe('fetchGitSource', () => {
  let server: GitHttpServer;
  let work: string;
  let dest: string;
  const loopback = new AddressAllowlist(['127.0.0.0/8', '::1'], 'TEST_GIT_ALLOWLIST');
  const options: GitFetchOptions = { timeoutMs: 30_000, maxBytes: 16 * 1024 * 1024, addressAllowlist: loopback };
  const sourceOf = (url: string, commit: string, allowed = hosts('127.0.0.1', 'localhost')): GitSource => parseGitSource({ url, commit }, allowed);

  beforeAll(async () => {
    server = await startGitHttpServer();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'wasm-signer-git-source-'));
    dest = join(work, 'dest');
    mkdirSync(dest);
    server.intercept = undefined;
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GitSourceError);
    expect(readdirSync(dest)).toEqual([]);
    expect(readdirSync(work)).toEqual(['dest']);
    return error as GitSourceError;
  };

  it('fetches a commit by its full id: the files, modes and internal links, no .git, and the tree id', async () => {
    const repo = await server.createRepository(
      'hello',
      { 'Cargo.toml': '[package]\nname = "hello"\n', 'src/main.rs': 'fn main() {}\n', 'build.sh': '#!/bin/sh\n' },
      { executables: ['build.sh'], symlinks: { 'main-link.rs': 'src/main.rs' } },
    );
    const fetched = await fetchGitSource(sourceOf(repo.url, repo.commit), dest, options);
    expect(fetched).toEqual({ commit: repo.commit, tree: repo.tree, bytes: 25 + 13 + 10 });
    expect(readdirSync(dest).sort()).toEqual(['Cargo.toml', 'build.sh', 'main-link.rs', 'src']);
    expect(readFileSync(join(dest, 'src/main.rs'), 'utf8')).toBe('fn main() {}\n');
    expect(statSync(join(dest, 'build.sh')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(dest, 'main-link.rs'))).toBe('src/main.rs');
    expect(server.requests.some((r) => r.includes('hello.git'))).toBe(true);
  });

  it('fetches from a host name, connecting to the addresses it checked', async () => {
    const repo = await server.createRepository('by-name', { 'a.txt': 'a' });
    const fetched = await fetchGitSource(sourceOf(repo.url.replace('127.0.0.1', 'localhost'), repo.commit), dest, {
      ...options,
      addressAllowlist: new AddressAllowlist(['localhost'], 'TEST_GIT_ALLOWLIST'),
    });
    expect(fetched.commit).toBe(repo.commit);
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('a');
  });

  it('fetches a commit of a SHA-256 repository', async () => {
    const repo = await server.createRepository('sha256', { 'a.txt': 'sha256' }, { objectFormat: 'sha256' });
    expect(repo.commit).toMatch(/^[0-9a-f]{64}$/);
    expect(await fetchGitSource(sourceOf(repo.url, repo.commit), dest, options)).toMatchObject({ commit: repo.commit, tree: repo.tree });
  });

  it('says a commit the repository does not have is not found (after trying all branches and tags)', async () => {
    const repo = await server.createRepository('missing-commit', { 'a.txt': 'a' });
    const error = await failure(fetchGitSource(sourceOf(repo.url, COMMIT), dest, options));
    expect({ code: error.code, transient: error.transient }).toEqual({ code: 'GIT_COMMIT_NOT_FOUND', transient: false });
    expect(error.message).toContain(COMMIT);
    // a blob or tree id is not a commit either
    const blob = await failure(fetchGitSource(sourceOf(repo.url, repo.tree), dest, options));
    expect(blob.code).toBe('GIT_COMMIT_NOT_FOUND');
  });

  it('refuses a commit the server serves by id but no branch or tag contains (a pull request head, a fork)', async () => {
    const repo = await server.createRepository('pull-request-head', { 'evil.rs': 'fn main() {}' }, { ref: 'refs/pull/1/head' });
    const error = await failure(fetchGitSource(sourceOf(repo.url, repo.commit), dest, options));
    expect(error.code).toBe('GIT_COMMIT_NOT_FOUND');
    expect(error.message).toContain('not on any branch or tag');
  });

  it('refuses a commit with more files than allowed', async () => {
    const files = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`empty-${i}.txt`, '']));
    const repo = await server.createRepository('many-files', files);
    const error = await failure(fetchGitSource(sourceOf(repo.url, repo.commit), dest, { ...options, maxFiles: 20 }));
    expect(error.code).toBe('GIT_SOURCE_TOO_LARGE');
    expect(error.message).toContain('30 files');
  });

  it('refuses a commit whose symbolic links leave the tree', async () => {
    const passwd = await server.createRepository('passwd-link', { 'a.txt': 'a' }, { symlinks: { passwd: '/etc/passwd' } });
    const absolute = await failure(fetchGitSource(sourceOf(passwd.url, passwd.commit), dest, options));
    expect({ code: absolute.code, message: absolute.message }).toEqual({ code: 'GIT_LINK_ESCAPES', message: expect.stringContaining('"passwd" -> "/etc/passwd"') });
    const relative = await server.createRepository('relative-link', { 'a.txt': 'a' }, { symlinks: { 'sub/up': '../../outside' } });
    expect((await failure(fetchGitSource(sourceOf(relative.url, relative.commit), dest, options))).code).toBe('GIT_LINK_ESCAPES');
    const loop = await server.createRepository('loop-link', { 'a.txt': 'a' }, { symlinks: { here: '.' } });
    expect((await failure(fetchGitSource(sourceOf(loop.url, loop.commit), dest, options))).code).toBe('GIT_LINK_ESCAPES');
  });

  it('refuses a repository larger than the limit', async () => {
    const repo = await server.createRepository('large', { 'small.txt': 'x', 'zeros.bin': Buffer.alloc(8 * 1024 * 1024) });
    const error = await failure(fetchGitSource(sourceOf(repo.url, repo.commit), dest, { ...options, maxBytes: 1024 * 1024 }));
    expect({ code: error.code, transient: error.transient }).toEqual({ code: 'GIT_SOURCE_TOO_LARGE', transient: false });
  });

  it('refuses an internal address that is not allowlisted, before connecting', async () => {
    const repo = await server.createRepository('internal', { 'a.txt': 'a' });
    const before = server.requests.length;
    const error = await failure(fetchGitSource(sourceOf(repo.url, repo.commit), dest, { ...options, addressAllowlist: undefined }));
    expect({ code: error.code, message: error.message }).toEqual({ code: 'GIT_ADDRESS_REFUSED', message: expect.stringContaining('127.0.0.1 is an internal address') });
    expect(server.requests.length).toBe(before);
  });

  it('fails transiently when the server is unreachable or answers 5xx, permanently when the repository does not exist', async () => {
    const closedPort = await freePort();
    const unreachable = await failure(fetchGitSource(sourceOf(`http://127.0.0.1:${closedPort}/repo.git`, COMMIT), dest, options));
    expect({ code: unreachable.code, transient: unreachable.transient }).toEqual({ code: 'GIT_FETCH_FAILED', transient: true });

    server.intercept = (_request, response) => {
      response.writeHead(503).end('maintenance');
      return true;
    };
    const unavailable = await failure(fetchGitSource(sourceOf(`${server.url}/any.git`, COMMIT), dest, options));
    expect({ code: unavailable.code, transient: unavailable.transient }).toEqual({ code: 'GIT_FETCH_FAILED', transient: true });
    expect(unavailable.message).toContain('503');

    server.intercept = undefined;
    const missing = await failure(fetchGitSource(sourceOf(`${server.url}/no-such-repository.git`, COMMIT), dest, options));
    expect({ code: missing.code, transient: missing.transient }).toEqual({ code: 'GIT_FETCH_FAILED', transient: false });
  });

  it('does not follow redirects', async () => {
    const repo = await server.createRepository('redirect-target', { 'a.txt': 'a' });
    server.intercept = (request, response) => {
      if (!request.url?.startsWith('/moved.git')) return false;
      response.writeHead(301, { location: `${repo.url}${request.url.slice('/moved.git'.length)}` }).end();
      return true;
    };
    const before = server.requests.length;
    const error = await failure(fetchGitSource(sourceOf(`${server.url}/moved.git`, repo.commit), dest, options));
    expect({ code: error.code, transient: error.transient }).toEqual({ code: 'GIT_FETCH_FAILED', transient: false });
    expect(server.requests.slice(before).some((r) => r.includes('redirect-target'))).toBe(false);
  });

  describe('against a server that accepts connections and never answers', () => {
    let silent: Server;
    let port: number;
    const open = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((socket) => {
        open.add(socket);
        socket.resume(); // reads (and drops) the request, so that the client's end is seen
        socket.on('error', () => undefined);
        socket.once('close', () => open.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('kills git at the timeout (its connections close) and fails transiently', async () => {
      const started = Date.now();
      const error = await failure(fetchGitSource(sourceOf(`http://127.0.0.1:${port}/repo.git`, COMMIT), dest, { ...options, timeoutMs: 1500 }));
      expect({ code: error.code, transient: error.transient }).toEqual({ code: 'GIT_FETCH_TIMEOUT', transient: true });
      expect(Date.now() - started).toBeLessThan(10_000);
      const deadline = Date.now() + 5000;
      while (open.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(open.size).toBe(0);
    });

    it('stops when the caller aborts, with the reason the caller gave', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('shutting down')), 300);
      const error = await fetchGitSource(sourceOf(`http://127.0.0.1:${port}/repo.git`, COMMIT), dest, { ...options, signal: controller.signal }).catch((e: unknown) => e);
      expect(error).toEqual(new Error('shutting down'));
      expect(lstatSync(dest).isDirectory()).toBe(true);
      expect(readdirSync(dest)).toEqual([]);
    });
  });
});
