import { quotedName } from './printable-text';
import { SourceArchiveError } from './source-archive-errors';
import type { SourceNode } from './source-links';

type ArchiveNode = SourceNode & {
  /** The entry's name as written in the archive (for messages); undefined for a directory only implied by other entries. */
  entry?: string;
};

/**
 * The tree an archive describes, entry by entry, as it is read: what each path is, so that no path is
 * given twice and no entry is placed under a file or through a symbolic link (which would write where
 * the link points, and which the order of entries in an archive makes easy: `a -> /etc`, then `a/x`).
 * Parent directories an entry implies are part of the tree, as unpacking creates them.
 */
export class ArchiveTree {
  private readonly nodes = new Map<string, ArchiveNode>();
  private readonly topLevel = new Set<string>();
  files = 0;
  directories = 0;
  symlinks = 0;

  get size(): number {
    return this.nodes.size;
  }

  /**
   * Records an entry at `path` (its components). Returns the directories unpacking must create for it, in
   * order (missing parents, then the entry itself when it is a directory). ARCHIVE_DUPLICATE_ENTRY when
   * the path is already taken, or a parent is a file or a link. A directory entry for a directory that
   * earlier entries implied is accepted once (zip tools may list a directory after its files).
   */
  add(path: readonly string[], node: SourceNode, entry: string): string[] {
    const created: string[] = [];
    for (let depth = 1; depth < path.length; depth++) {
      const parent = path.slice(0, depth).join('/');
      const existing = this.nodes.get(parent);
      if (existing === undefined) {
        this.set(parent, { kind: 'directory' });
        created.push(parent);
      } else if (existing.kind === 'symlink') {
        throw new SourceArchiveError(
          'ARCHIVE_DUPLICATE_ENTRY',
          `Entry ${quotedName(entry)} lies under the symbolic link ${quotedName(existing.entry!)}; entries may not be placed through links`,
          { entry },
        );
      } else if (existing.kind === 'file') {
        throw new SourceArchiveError('ARCHIVE_DUPLICATE_ENTRY', `Entry ${quotedName(entry)} lies under ${quotedName(existing.entry!)}, which is a file`, { entry });
      }
    }
    const key = path.join('/');
    const existing = this.nodes.get(key);
    if (existing !== undefined) {
      if (existing.kind === 'directory' && node.kind === 'directory' && existing.entry === undefined) {
        existing.entry = entry;
        return created;
      }
      const earlier = existing.entry === undefined ? 'a directory implied by earlier entries' : `entry ${quotedName(existing.entry)}`;
      throw new SourceArchiveError('ARCHIVE_DUPLICATE_ENTRY', `Entry ${quotedName(entry)} names the same path as ${earlier}`, { entry });
    }
    this.set(key, { ...node, entry });
    if (node.kind === 'directory') created.push(key);
    return created;
  }

  private set(key: string, node: ArchiveNode): void {
    this.nodes.set(key, node);
    if (!key.includes('/')) this.topLevel.add(key);
    if (node.kind === 'file') this.files++;
    else if (node.kind === 'directory') this.directories++;
    else this.symlinks++;
  }

  /** The single top-level directory every entry lies under (GitHub and `git archive --prefix` tarballs), or undefined. */
  singleRoot(): string | undefined {
    if (this.topLevel.size !== 1) return undefined;
    const [name] = this.topLevel as Set<string>;
    return this.nodes.get(name!)?.kind === 'directory' ? name : undefined;
  }

  /** The tree below `root` (the whole tree when undefined), keyed by paths relative to it. */
  under(root: string | undefined): Map<string, ArchiveNode> {
    if (root === undefined) return new Map(this.nodes);
    const prefix = `${root}/`;
    const nodes = new Map<string, ArchiveNode>();
    for (const [path, node] of this.nodes) if (path.startsWith(prefix)) nodes.set(path.slice(prefix.length), node);
    return nodes;
  }
}
