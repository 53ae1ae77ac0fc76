import { lookup } from 'node:dns/promises';
import { mkdtemp, readdir, realpath, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressAllowlist, INTERNAL_ADDRESS_KINDS, refusedAddress } from '../common/address-policy';
import type { HostPatterns } from '../common/host-patterns';
import { GitSourceError } from './git-source-errors';
import { type GitRun, runGit } from './git-process';
import { printableText, quotedName } from './printable-text';
import { findLinkProblem, LINK_PROBLEM_WORDS } from './source-links';
import { directoryBytes, scanSourceTree } from './source-tree-scan';

/**
 * Git repositories as build sources: a URL and a full commit id, validated when the build is requested
 * (`parseGitSource`) and fetched by the build worker (`fetchGitSource`) with the system git, hardened:
 *
 * - only `https://` URLs, and `http://` ones: plain HTTP is accepted only because every host must be
 *   allowlisted by the operator (an allowlisted host on a private network may not have TLS); no
 *   credentials in the URL, no other transport (`ext::`, `file:`, `ssh:`, `git:`, scp-style), enforced
 *   both here and by git's protocol.allow;
 * - the commit is a full id (40 or 64 hex digits), never a branch, tag or short id, which can move or
 *   be ambiguous: the build says exactly which tree it built;
 * - the host is resolved once and refused when any address is internal (unless allowlisted), and git
 *   connects to exactly those addresses (http.curloptResolve), so DNS cannot answer differently to git;
 * - git runs with no system or user configuration, an empty HOME, no credential helper or prompt, no
 *   hooks, no redirects, no submodules, no LFS filters, object checks on fetch, in its own process group
 *   killed on timeout, abort, or when the directory grows over the size limit;
 * - after checkout HEAD must be the commit, `.git` is removed (its tree id recorded first), and symbolic
 *   links must stay inside the tree (the archive rules, source-links.ts).
 */
export interface GitSource {
  /** The URL as git is given it (normalised by the WHATWG URL parser). */
  url: string;
  /** Host name or address (IPv6 without brackets). */
  host: string;
  port: number;
  commit: string;
  objectFormat: 'sha1' | 'sha256';
}

export interface GitFetchOptions {
  /** For the whole fetch: resolution, fetch, checkout. */
  timeoutMs: number;
  /** Bytes the destination (the repository's objects, then the checkout) may hold. */
  maxBytes: number;
  /** Internal hosts or ranges git may connect to (tests: loopback). */
  addressAllowlist?: AddressAllowlist;
  /** Files and links the commit may hold (BUILD_SOURCE_MAX_FILES): empty files weigh nothing in bytes. */
  maxFiles?: number;
  signal?: AbortSignal;
}

export interface FetchedGitSource {
  commit: string;
  /** The commit's tree id. */
  tree: string;
  /** Bytes of the regular files checked out. */
  bytes: number;
}

const MAX_URL_LENGTH = 2048;
const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** How often the destination's size is measured while git writes into it. */
const SIZE_POLL_MS = 200;
/** Bytes of git's stderr quoted in an error message. */
const STDERR_QUOTED_CHARS = 2000;

/** Validates a git source as a caller gives it; throws GitSourceError (a 4xx at the API). */
export function parseGitSource(input: { url: string; commit: string }, allowedHosts: HostPatterns): GitSource {
  if (allowedHosts.size === 0) throw new GitSourceError('GIT_SOURCES_DISABLED', 'Building from a git repository is disabled: no git host is allowed by the configuration');
  const { url, commit } = input;
  const invalid = (why: string) => new GitSourceError('GIT_URL_INVALID', `The git URL ${quotedName(String(url))} ${why}`);
  if (typeof url !== 'string' || url.length === 0) throw new GitSourceError('GIT_URL_INVALID', 'The git URL is missing');
  if (url.length > MAX_URL_LENGTH) throw invalid(`is longer than ${MAX_URL_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f]/u.test(url)) throw invalid('contains whitespace or control characters');
  if (!/^https?:\/\//i.test(url)) {
    throw invalid('is not an https:// URL (http:// is accepted for allowlisted hosts; ext::, file:, ssh:, git: and scp-style addresses are not)');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('is not a valid URL');
  }
  if (parsed.username !== '' || parsed.password !== '' || /^https?:\/\/[^/]*@/i.test(url)) throw invalid('carries credentials; only public repositories can be fetched');
  if (url.includes('?') || url.includes('#')) throw invalid('has a query or a fragment');
  const https = parsed.protocol === 'https:';
  const port = parsed.port === '' ? (https ? 443 : 80) : Number(parsed.port);
  if (!allowedHosts.matches(`${parsed.hostname}:${port}`)) {
    throw new GitSourceError('GIT_HOST_NOT_ALLOWED', `Git host ${quotedName(parsed.host)} is not one of the hosts allowed for git sources`);
  }
  if (typeof commit !== 'string' || !FULL_COMMIT.test(commit)) {
    throw new GitSourceError(
      'GIT_COMMIT_NOT_FULL',
      `${quotedName(String(commit))} is not a full commit id: a full commit id is required (40 lower-case hex digits, or 64 for a SHA-256 repository); branches, tags and short ids are not accepted, since they can move`,
    );
  }
  return { url: parsed.href, host: parsed.hostname.replace(/^\[|\]$/g, ''), port, commit, objectFormat: commit.length === 64 ? 'sha256' : 'sha1' };
}

/** The configuration every git command runs with (on top of no system or user configuration). */
function hardenedConfig(source: GitSource, addresses: readonly string[] | undefined): string[] {
  const settings = [
    'protocol.allow=never',
    'protocol.https.allow=always',
    'protocol.http.allow=always',
    'core.hooksPath=/dev/null',
    'core.symlinks=true',
    'core.autocrlf=false',
    'core.fsmonitor=false',
    'core.askPass=',
    'credential.helper=',
    'http.followRedirects=false',
    'http.proxy=',
    'http.sslVerify=true',
    'fetch.fsckObjects=true',
    'transfer.fsckObjects=true',
    'fetch.recurseSubmodules=false',
    'fetch.writeCommitGraph=false',
    'submodule.recurse=false',
    'filter.lfs.smudge=',
    'filter.lfs.process=',
    'filter.lfs.required=false',
    'gc.auto=0',
    'maintenance.auto=false',
    'advice.detachedHead=false',
    'init.defaultBranch=source',
  ];
  // Git (libcurl) connects to the addresses that were checked, not to whatever DNS answers next.
  if (addresses) settings.push(`http.curloptResolve=${source.host}:${source.port}:${addresses.map((a) => (isIP(a) === 6 ? `[${a}]` : a)).join(',')}`);
  return settings.flatMap((setting) => ['-c', setting]);
}

/** Git's environment: nothing inherited but PATH; no prompts, no configuration files, only HTTP(S). */
function gitEnvironment(home: string, gitDir: string, workTree: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    LC_ALL: 'C',
    GIT_DIR: gitDir,
    GIT_WORK_TREE: workTree,
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: 'https:http',
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_LFS_SKIP_SMUDGE: '1',
  };
}

/** Git's stderr for a message: credentials in URLs masked, escaped for printing, cut. */
function quotedStderr(stderr: string): string {
  const masked = stderr.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@').replace(/(authorization:\s*)\S.*$/gim, '$1***');
  return printableText(masked.trim(), STDERR_QUOTED_CHARS);
}

const TRANSIENT =
  /returned error: 5\d\d|RPC failed|Failed to connect|Connection refused|Connection reset|Could not resolve host|timed out|early EOF|transfer closed|unexpected disconnect|Empty reply|the remote end hung up|SSL|TLS|gnutls/i;

function fetchFailure(source: GitSource, run: GitRun): GitSourceError {
  const stderr = quotedStderr(run.stderr);
  if (/returned error: 3\d\d|redirect/i.test(run.stderr)) {
    return new GitSourceError('GIT_FETCH_FAILED', `Fetching ${source.url} failed: the server redirects, and redirects are not followed (give the final URL): ${stderr}`);
  }
  if (/returned error: 40[13]|Authentication failed|could not read Username|terminal prompts disabled/i.test(run.stderr)) {
    return new GitSourceError('GIT_FETCH_FAILED', `Fetching ${source.url} failed: the repository requires authentication; only public repositories can be fetched: ${stderr}`);
  }
  if (/returned error: 404|repository .* not found|not found/i.test(run.stderr)) {
    return new GitSourceError('GIT_FETCH_FAILED', `Fetching ${source.url} failed: no such repository: ${stderr}`);
  }
  const transient = TRANSIENT.test(run.stderr);
  return new GitSourceError('GIT_FETCH_FAILED', `Fetching ${source.url} failed (git exited with ${run.code ?? 'a signal'}): ${stderr}`, { transient });
}

/** The addresses `host` resolves to, when they may be reached; GIT_ADDRESS_REFUSED or GIT_FETCH_FAILED otherwise. */
async function checkedAddresses(source: GitSource, allowlist: AddressAllowlist): Promise<string[]> {
  let addresses: string[];
  if (isIP(source.host)) {
    addresses = [source.host];
  } else {
    try {
      addresses = (await lookup(source.host, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return Promise.reject(
        new GitSourceError('GIT_FETCH_FAILED', `Git host ${quotedName(source.host)} cannot be resolved (${code ?? String(error)})`, {
          transient: code !== 'ENOTFOUND',
          cause: error,
        }),
      );
    }
  }
  const refused = refusedAddress(source.host, addresses, allowlist);
  if (refused !== undefined) {
    const what = isIP(source.host) ? `${refused} is` : `${source.host} resolves to ${refused},`;
    throw new GitSourceError('GIT_ADDRESS_REFUSED', `Git host refused: ${what} an internal address (${INTERNAL_ADDRESS_KINDS}) and is not allowlisted`);
  }
  return addresses;
}

/** A promise that rejects with the signal's reason when it is aborted (at once if it already is). */
function rejectedOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

class SizeExceeded extends Error {}
class TimedOut extends Error {}

/**
 * Fetches `source` into `destDir` (existing, empty) and checks out its commit there, without `.git`.
 * See the module comment for the hardening; errors are GitSourceErrors (or the signal's reason when the
 * caller aborted), after which the directory is left empty.
 */
export async function fetchGitSource(source: GitSource, destDir: string, options: GitFetchOptions): Promise<FetchedGitSource> {
  const workTree = await realpath(destDir);
  if ((await readdir(workTree)).length > 0) throw new Error(`${destDir} is not empty; sources are fetched into a fresh directory`);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimedOut()), options.timeoutMs);
  const onAbort = () => controller.abort(options.signal!.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const home = await mkdtemp(join(tmpdir(), 'wasm-signer-git-home-'));
  let watching: NodeJS.Timeout | undefined;
  try {
    const addresses = await Promise.race([
      checkedAddresses(source, options.addressAllowlist ?? new AddressAllowlist([], 'the address allowlist')),
      rejectedOnAbort(controller.signal),
    ]);
    const env = gitEnvironment(home, join(workTree, '.git'), workTree);
    const config = hardenedConfig(source, isIP(source.host) ? undefined : addresses);
    const git = (args: string[], onStdout?: (chunk: Buffer) => void) => runGit([...config, ...args], { cwd: workTree, env, signal: controller.signal, onStdout });

    // The size limit is watched while git writes (a pack, then the checkout), and checked once more after.
    let measuring = false;
    watching = setInterval(() => {
      if (measuring) return;
      measuring = true;
      void directoryBytes(workTree)
        .then((bytes) => bytes > options.maxBytes && controller.abort(new SizeExceeded()))
        .finally(() => (measuring = false));
    }, SIZE_POLL_MS);

    const init = await git(['init', '--quiet', `--object-format=${source.objectFormat}`]);
    if (init.code !== 0) throw new Error(`git init failed: ${init.stderr}`);
    // Every branch and tag, with their history: the commit must be reachable from one of them. A host may
    // serve any object it holds by id (a pull request's head, a fork's commit): a commit fetched by id alone
    // could be one the repository never had, and its provenance would name the wrong repository.
    const all = await git([
      'fetch',
      '--quiet',
      '--no-tags',
      '--no-recurse-submodules',
      '--end-of-options',
      source.url,
      '+refs/heads/*:refs/remotes/source/*',
      '+refs/tags/*:refs/tags/*',
    ]);
    if (all.code !== 0) throw fetchFailure(source, all);
    const type = await git(['cat-file', '-t', '--end-of-options', source.commit]);
    if (type.code !== 0 || type.stdout.trim() !== 'commit') {
      throw new GitSourceError(
        'GIT_COMMIT_NOT_FOUND',
        `Commit ${source.commit} is not on any branch or tag of the repository at ${source.url}${type.code === 0 ? ` (it names a ${type.stdout.trim()})` : ''}`,
      );
    }

    const containing = await git(['for-each-ref', '--count=1', '--format=%(refname)', `--contains=${source.commit}`, 'refs/remotes/source', 'refs/tags']);
    if (containing.code !== 0 || containing.stdout.trim() === '') {
      throw new GitSourceError('GIT_COMMIT_NOT_FOUND', `Commit ${source.commit} is not on any branch or tag of the repository at ${source.url}`);
    }

    // The checkout's size is known before writing it: the blobs' sizes (a small pack can inflate to a lot).
    let blobBytes = 0;
    let entries = 0;
    let pending = '';
    const listing = await git(['ls-tree', '-r', '-l', '--full-tree', '--end-of-options', source.commit], (chunk) => {
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop()!;
      entries += lines.length;
      for (const line of lines) blobBytes += Number(/^\S+ blob \S+ +(\d+)\t/.exec(line)?.[1] ?? 0);
    });
    if (listing.code !== 0) throw new Error(`git ls-tree failed: ${listing.stderr}`);
    const repositoryBytes = await directoryBytes(workTree);
    if (repositoryBytes + blobBytes > options.maxBytes) throw new SizeExceeded();
    if (options.maxFiles !== undefined && entries > options.maxFiles) {
      throw new GitSourceError('GIT_SOURCE_TOO_LARGE', `Commit ${source.commit} holds ${entries} files and links, more than the ${options.maxFiles} a source may have`);
    }

    const checkout = await git(['checkout', '--quiet', '--detach', '--no-recurse-submodules', source.commit]);
    if (checkout.code !== 0) throw new GitSourceError('GIT_FETCH_FAILED', `Checking out ${source.commit} failed: ${quotedStderr(checkout.stderr)}`);
    const head = (await git(['rev-parse', '--verify', 'HEAD'])).stdout.trim();
    if (head !== source.commit) throw new GitSourceError('GIT_FETCH_FAILED', `Checking out ${source.commit} left HEAD at ${printableText(head)}`);
    const tree = (await git(['rev-parse', '--verify', 'HEAD^{tree}'])).stdout.trim();
    if ((await directoryBytes(workTree)) > options.maxBytes) throw new SizeExceeded();
    clearInterval(watching);

    await rm(join(workTree, '.git'), { recursive: true, force: true });
    const { nodes, bytes } = await scanSourceTree(workTree);
    const problem = findLinkProblem(nodes);
    if (problem) {
      const link = `${quotedName(problem.path)} -> ${quotedName(problem.target)}`;
      throw new GitSourceError('GIT_LINK_ESCAPES', `Commit ${source.commit} has a symbolic link ${link} that ${LINK_PROBLEM_WORDS[problem.reason]}`);
    }
    return { commit: source.commit, tree, bytes };
  } catch (error) {
    clearInterval(watching);
    // Nothing half-fetched is left for the caller (who passed a fresh directory and deletes it anyway).
    for (const child of await readdir(workTree)) await rm(join(workTree, child), { recursive: true, force: true });
    if (error instanceof SizeExceeded) {
      throw new GitSourceError('GIT_SOURCE_TOO_LARGE', `The repository at ${source.url}, commit ${source.commit}, is larger than the ${options.maxBytes} bytes allowed`);
    }
    if (error instanceof TimedOut) {
      throw new GitSourceError('GIT_FETCH_TIMEOUT', `Fetching ${source.url} did not finish within ${options.timeoutMs} ms`, { transient: true });
    }
    throw error;
  } finally {
    clearTimeout(timer);
    clearInterval(watching);
    options.signal?.removeEventListener('abort', onAbort);
    await rm(home, { recursive: true, force: true });
  }
}
