import type { FileHandle } from 'node:fs/promises';
import { open, stat } from 'node:fs/promises';
import type { ArchiveEntry } from './archive-entry';
import { ExpansionBudget } from './expansion-budget';
import { quotedName } from './printable-text';
import { SourceArchiveError } from './source-archive-errors';
import { ArchiveTree } from './source-archive-tree';
import { checkLinkTarget, entryPathComponents, type EntryPathRules } from './source-entry-paths';
import { findLinkProblem, LINK_PROBLEM_WORDS, type SourceNode } from './source-links';
import { SourceTreeWriter } from './source-tree-writer';
import { tarGzEntries } from './tar-gz-entries';
import { zipEntries } from './zip-entries';

/**
 * Source archives for builds (`POST /v1/builds`): a gzip-compressed tar or a zip, checked entry by entry
 * while it is read as a stream. `inspectSourceArchive` is the dry run the API makes before accepting a
 * job (it reads and decompresses everything, makes every check, writes nothing); `unpackSourceArchive`
 * is what the build worker runs, with exactly the same checks, writing as it goes.
 *
 * Layout: when every entry lies under one top-level directory (GitHub's tarballs, `git archive
 * --prefix=name/`, a zipped project folder), that directory is stripped: its contents become the top of
 * the work directory, where the builder looks for Cargo.toml or package.json. `summary.root` names it.
 * Links are checked against the tree as unpacked (after stripping).
 *
 * Limits (SourceArchiveLimits): the archive's size before reading; every entry counted (files,
 * directories, links, and the directories entries imply) against maxFiles; the decompressed bytes (the
 * files' contents and, for tar, the headers and padding around them) against maxUnpackedBytes and, past
 * 1 MiB, against maxCompressionRatio times the archive's size, counted as they are produced; an entry
 * whose header claims more than what is left is refused before its data is read.
 *
 * Entry types: regular files, directories and relative symbolic links that stay inside the tree. Hard
 * links are refused (ARCHIVE_LINK_ESCAPES): source trees do not need them, and a link to an entry not yet
 * written, or outside, is the classic escape. Devices, fifos and sockets are ARCHIVE_SPECIAL_FILE; sparse
 * files and other GNU tar extensions ARCHIVE_INVALID. Refusals are SourceArchiveErrors (codes in
 * source-archive-errors.ts) naming the entry, escaped for printing.
 */
export type SourceArchiveFormat = 'tar.gz' | 'zip';

export interface SourceArchiveLimits {
  maxArchiveBytes: number;
  /** Decompressed bytes: the files' contents, plus the tar headers and padding around them. */
  maxUnpackedBytes: number;
  /** Entries, including directories (also those only implied by other entries' paths) and links. */
  maxFiles: number;
  /** Decompressed bytes over the archive's bytes, checked while reading (not trusted from headers), once past 1 MiB. */
  maxCompressionRatio: number;
  /** An entry's name, or a link's target, in UTF-8 bytes (default 1024). */
  maxPathBytes?: number;
  /** Directories an entry may lie under (default 64). */
  maxDepth?: number;
}

export interface SourceArchiveSummary {
  format: SourceArchiveFormat;
  archiveBytes: number;
  /** Regular files, directories (without a stripped root) and symbolic links in the unpacked tree. */
  files: number;
  directories: number;
  symlinks: number;
  /** Bytes of the regular files. */
  unpackedBytes: number;
  /** Bytes decompression produced (what the limits and the ratio are checked on). */
  expandedBytes: number;
  /** The single top-level directory stripped on unpacking, or undefined when entries unpack where they are. */
  root?: string;
  /** Names at the top of the unpacked tree (after stripping), sorted, at most 1000. */
  topLevelNames: string[];
  /** A Cargo.lock file at the top of the unpacked tree or one directory below. */
  hasCargoLock: boolean;
}

export const DEFAULT_MAX_PATH_BYTES = 1024;
export const DEFAULT_MAX_DEPTH = 64;
const MAX_TOP_LEVEL_NAMES = 1000;
/** Bytes read from the start of an archive to recognise it (the tar magic sits at 257). */
const HEAD_BYTES = 512;

/** The format whose magic number `head` (the first bytes of a file) starts with: gzip (taken as tar.gz) or zip (also an empty one). */
export function detectArchiveFormat(head: Buffer): SourceArchiveFormat | undefined {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 0x03 && head[3] === 0x04) || (head[2] === 0x05 && head[3] === 0x06))) return 'zip';
  return undefined;
}

/** What an unsupported file looks like, for the refusal's message. */
function unsupportedFormat(head: Buffer): string {
  const starts = (...bytes: number[]) => bytes.every((byte, i) => head[i] === byte);
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'an uncompressed tar archive; compress it with gzip (.tar.gz)';
  if (starts(0x42, 0x5a, 0x68)) return 'bzip2-compressed; use gzip (.tar.gz) or zip';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz-compressed; use gzip (.tar.gz) or zip';
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd-compressed; use gzip (.tar.gz) or zip';
  if (starts(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c)) return 'a 7z archive; use .tar.gz or zip';
  if (starts(0x52, 0x61, 0x72, 0x21)) return 'a RAR archive; use .tar.gz or zip';
  return 'neither a gzip-compressed tar nor a zip archive';
}

/** The format of the archive at `archivePath`, from its first bytes: ARCHIVE_EMPTY for an empty file, ARCHIVE_FORMAT_UNSUPPORTED for any other format. */
export async function readArchiveFormat(archivePath: string): Promise<SourceArchiveFormat> {
  const handle = await open(archivePath, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (head.length === 0) throw new SourceArchiveError('ARCHIVE_EMPTY', 'The archive is empty (0 bytes)');
  const format = detectArchiveFormat(head);
  if (format === undefined) throw new SourceArchiveError('ARCHIVE_FORMAT_UNSUPPORTED', `The archive is ${unsupportedFormat(head)}`);
  return format;
}

/** Reads `archivePath` with every check, decompressing everything and writing nothing. */
export function inspectSourceArchive(archivePath: string, format: SourceArchiveFormat, limits: SourceArchiveLimits): Promise<SourceArchiveSummary> {
  return readSourceArchive(archivePath, format, limits, undefined);
}

/**
 * Unpacks `archivePath` into `destDir` (an existing, empty directory) with the checks of
 * `inspectSourceArchive`. On a refusal part-way, what was written is removed (the directory stays) and
 * no file is left open.
 */
export async function unpackSourceArchive(archivePath: string, format: SourceArchiveFormat, destDir: string, limits: SourceArchiveLimits): Promise<SourceArchiveSummary> {
  const writer = await SourceTreeWriter.open(destDir);
  try {
    return await readSourceArchive(archivePath, format, limits, writer);
  } catch (error) {
    await writer.clear();
    throw error;
  }
}

async function readSourceArchive(
  archivePath: string,
  format: SourceArchiveFormat,
  limits: SourceArchiveLimits,
  writer: SourceTreeWriter | undefined,
): Promise<SourceArchiveSummary> {
  const rules: EntryPathRules = { maxPathBytes: limits.maxPathBytes ?? DEFAULT_MAX_PATH_BYTES, maxDepth: limits.maxDepth ?? DEFAULT_MAX_DEPTH };
  const archiveBytes = (await stat(archivePath)).size;
  if (archiveBytes > limits.maxArchiveBytes) {
    throw new SourceArchiveError('ARCHIVE_TOO_LARGE', `The archive is ${archiveBytes} bytes, more than the ${limits.maxArchiveBytes} allowed`);
  }
  const detected = await readArchiveFormat(archivePath);
  if (detected !== format) throw new SourceArchiveError('ARCHIVE_FORMAT_UNSUPPORTED', `The archive was sent as ${format}, but it is a ${detected} archive`);

  const budget = new ExpansionBudget(archiveBytes, limits.maxUnpackedBytes, limits.maxCompressionRatio);
  const tree = new ArchiveTree();
  const entries = format === 'zip' ? zipEntries(archivePath, budget, { maxEntries: limits.maxFiles, maxLinkBytes: rules.maxPathBytes }) : tarGzEntries(archivePath, budget);
  let entryCount = 0;
  let unpackedBytes = 0;
  for await (const entry of entries) {
    budget.entry = entry.name;
    const refuse = (code: SourceArchiveError['code'], message: string) => new SourceArchiveError(code, message, { entry: entry.name });
    if (++entryCount > limits.maxFiles) throw refuse('ARCHIVE_TOO_MANY_FILES', `The archive has more than ${limits.maxFiles} entries, reached at entry ${quotedName(entry.name)}`);
    const path = entryPathComponents(entry.name, rules);
    const node = nodeOf(entry, path, rules);
    if (path.length === 0) {
      if (node.kind === 'directory') continue; // "./": the top itself
      throw refuse('ARCHIVE_NAME_INVALID', `Entry ${quotedName(entry.name)} names the top of the archive, which only a directory can be`);
    }
    const created = tree.add(path, node, entry.name);
    if (tree.size > limits.maxFiles) {
      throw refuse(
        'ARCHIVE_TOO_MANY_FILES',
        `The archive has more than ${limits.maxFiles} entries (counting the directories they imply), reached at entry ${quotedName(entry.name)}`,
      );
    }
    await writer?.createDirectories(created);
    if (node.kind !== 'file') continue;
    if (entry.declaredSize > limits.maxUnpackedBytes - unpackedBytes) {
      throw refuse(
        'ARCHIVE_TOO_LARGE',
        `Entry ${quotedName(entry.name)} claims ${entry.declaredSize} bytes, more than the ${limits.maxUnpackedBytes - unpackedBytes} left of the limit`,
      );
    }
    const handle: FileHandle | undefined = await writer?.createFile(path.join('/'));
    try {
      for await (const chunk of entry.content()) {
        unpackedBytes += chunk.length;
        if (unpackedBytes > limits.maxUnpackedBytes)
          throw refuse('ARCHIVE_TOO_LARGE', `The files unpack to more than ${limits.maxUnpackedBytes} bytes, reached at entry ${quotedName(entry.name)}`);
        if (handle) await SourceTreeWriter.write(handle, chunk);
      }
    } finally {
      if (handle) await SourceTreeWriter.closeFile(handle, entry.executable);
    }
  }

  if (tree.files === 0) throw new SourceArchiveError('ARCHIVE_EMPTY', `The archive holds no file (${entryCount} entries: directories or links only)`);
  const root = tree.singleRoot();
  const nodes = tree.under(root);
  const problem = findLinkProblem(nodes);
  if (problem) {
    const entry = nodes.get(problem.path)!.entry!;
    const link = `${quotedName(entry)} -> ${quotedName(problem.target)}`;
    throw new SourceArchiveError('ARCHIVE_LINK_ESCAPES', `Symbolic link ${link} ${LINK_PROBLEM_WORDS[problem.reason]}`, { entry });
  }
  const links = [...nodes].flatMap(([path, node]) => (node.kind === 'symlink' ? [{ path, target: node.target }] : []));
  await writer?.finish(root, links);

  const topLevelNames = [...nodes.keys()].filter((path) => !path.includes('/')).sort();
  return {
    format,
    archiveBytes,
    files: tree.files,
    directories: tree.directories - (root === undefined ? 0 : 1),
    symlinks: tree.symlinks,
    unpackedBytes,
    expandedBytes: budget.expandedBytes,
    ...(root === undefined ? {} : { root }),
    topLevelNames: topLevelNames.slice(0, MAX_TOP_LEVEL_NAMES),
    hasCargoLock: [...nodes].some(([path, node]) => node.kind === 'file' && /^(?:[^/]+\/)?Cargo\.lock$/.test(path)),
  };
}

/** What `entry` puts at `path`, or its refusal: special files, hard links and unsupported types are never unpacked. */
function nodeOf(entry: ArchiveEntry, path: readonly string[], rules: EntryPathRules): SourceNode {
  const name = quotedName(entry.name);
  switch (entry.kind) {
    case 'file':
    case 'directory':
      return { kind: entry.kind };
    case 'symlink':
      checkLinkTarget(entry.name, path, entry.linkTarget ?? '', rules);
      return { kind: 'symlink', target: entry.linkTarget! };
    case 'hardlink': {
      const target = quotedName(entry.linkTarget ?? '');
      throw new SourceArchiveError('ARCHIVE_LINK_ESCAPES', `Entry ${name} is a hard link to ${target}; hard links are not unpacked (archive the file itself)`, {
        entry: entry.name,
      });
    }
    case 'special':
      throw new SourceArchiveError('ARCHIVE_SPECIAL_FILE', `Entry ${name} is ${entry.detail}; only files, directories and symbolic links are unpacked`, { entry: entry.name });
    case 'unsupported':
      throw new SourceArchiveError('ARCHIVE_INVALID', `Entry ${name} is ${entry.detail}`, { entry: entry.name });
  }
}
