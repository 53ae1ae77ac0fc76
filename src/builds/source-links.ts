/**
 * Where the symbolic links of a source tree lead, decided on a description of the tree (paths relative
 * to its top, `/`-separated, each with its kind) before anything outside it reads the tree: archives are
 * checked before their links are created, git checkouts after git wrote them and before the build.
 *
 * A link is refused when it is absolute, when resolving it the way the kernel does (following the links
 * it passes through, with `..` applied after each link is replaced by its target) climbs above the top,
 * when it cannot be resolved within 40 links (Linux's limit: a loop such as `a -> b`, `b -> a`), or when
 * it is a directory loop: a link to a directory from which the link's own directory can be reached again
 * (`a -> .`, `sub/up -> ..`, or two links into each other's directories). Tools that walk a tree and
 * follow links (copying, hashing, packaging) would never finish such a tree. Links to paths that do not
 * exist are allowed; a missing component is taken as a directory, which is the more cautious reading.
 */
export type SourceNode = { kind: 'file' | 'directory' } | { kind: 'symlink'; target: string };

export interface LinkProblem {
  /** The link's path in the tree. */
  path: string;
  target: string;
  reason: 'absolute' | 'escapes' | 'too many levels of links' | 'directory loop' | 'too many links';
}

/**
 * Symbolic links a source may hold. Each is resolved (through up to 40 others, over paths of hundreds of
 * components): synchronous work that a source made of tens of thousands of chained links would stretch
 * into seconds of a blocked event loop. Real sources hold a handful.
 */
export const MAX_SYMLINKS = 1024;

/** What a refusal says of each problem, after the link and its target. */
export const LINK_PROBLEM_WORDS: Record<LinkProblem['reason'], string> = {
  absolute: 'is absolute; links must be relative',
  escapes: 'leads outside the tree',
  'too many levels of links': 'goes through too many links (a loop)',
  'directory loop': 'makes a directory loop',
  'too many links': `is one link too many: a source may hold at most ${MAX_SYMLINKS} symbolic links`,
};

/** Linux's MAXSYMLINKS: the kernel gives up (ELOOP) after following this many links for one path. */
const MAX_LINKS_FOLLOWED = 40;

type Resolution = { path: string[]; kind: SourceNode['kind'] | 'missing' } | { problem: LinkProblem['reason'] };

/** Resolves `target` from the directory `from`, as the kernel would within the described tree. */
function resolve(nodes: ReadonlyMap<string, SourceNode>, from: readonly string[], target: string): Resolution {
  const path = [...from];
  const pending = target.split('/').reverse();
  let followed = 0;
  let kind: SourceNode['kind'] | 'missing' = 'directory';
  while (pending.length > 0) {
    const component = pending.pop()!;
    if (component === '' || component === '.') continue;
    if (component === '..') {
      if (path.length === 0) return { problem: 'escapes' };
      path.pop();
      kind = 'directory';
      continue;
    }
    if (kind === 'file') return { path, kind: 'missing' }; // a component under a file: ENOTDIR, nothing to reach
    path.push(component);
    const node = nodes.get(path.join('/'));
    if (node?.kind === 'symlink') {
      if (++followed > MAX_LINKS_FOLLOWED) return { problem: 'too many levels of links' };
      if (node.target.startsWith('/')) return { problem: 'escapes' };
      path.pop();
      pending.push(...node.target.split('/').reverse());
      kind = 'directory';
      continue;
    }
    kind = node ? node.kind : 'missing';
  }
  return { path, kind: path.length === 0 ? 'directory' : kind };
}

const parentOf = (path: string): string => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');

/** The first problem among the links of the tree described by `nodes` (the top itself is not listed), or undefined. */
export function findLinkProblem(nodes: ReadonlyMap<string, SourceNode>): LinkProblem | undefined {
  let count = 0;
  for (const [path, node] of nodes) {
    if (node.kind === 'symlink' && ++count > MAX_SYMLINKS) return { path, target: node.target, reason: 'too many links' };
  }
  // Directory graph: each directory leads to its subdirectories and to the directories its links resolve to.
  const edges = new Map<string, { to: string; link?: string }[]>([['', []]]);
  const edgesOf = (directory: string) => {
    let list = edges.get(directory);
    if (!list) edges.set(directory, (list = []));
    return list;
  };
  const links: { path: string; target: string }[] = [];
  for (const [path, node] of nodes) {
    if (node.kind === 'directory') edgesOf(parentOf(path)).push({ to: path });
    else if (node.kind === 'symlink') links.push({ path, target: node.target });
  }
  for (const { path, target } of links) {
    if (target.startsWith('/')) return { path, target, reason: 'absolute' };
    const parent = parentOf(path);
    const resolved = resolve(nodes, parent === '' ? [] : parent.split('/'), target);
    if ('problem' in resolved) return { path, target, reason: resolved.problem };
    if (resolved.kind === 'directory') edgesOf(parent).push({ to: resolved.path.join('/'), link: path });
  }
  return directoryLoop(edges, nodes);
}

/**
 * A link on a cycle of the directory graph, found by depth-first search from the top. Subdirectory edges
 * alone make a tree, so every cycle holds at least one link edge: the one reported.
 */
function directoryLoop(edges: ReadonlyMap<string, { to: string; link?: string }[]>, nodes: ReadonlyMap<string, SourceNode>): LinkProblem | undefined {
  const state = new Map<string, 'open' | 'done'>([['', 'open']]);
  const stack: { directory: string; via?: string; next: number }[] = [{ directory: '', next: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const out = edges.get(frame.directory) ?? [];
    if (frame.next >= out.length) {
      state.set(frame.directory, 'done');
      stack.pop();
      continue;
    }
    const edge = out[frame.next++]!;
    const seen = state.get(edge.to);
    if (seen === 'open') {
      const start = stack.findIndex((open) => open.directory === edge.to);
      const link = [...stack.slice(start + 1).map((open) => open.via), edge.link].find((via) => via !== undefined)!;
      return { path: link, target: (nodes.get(link) as { target: string }).target, reason: 'directory loop' };
    }
    if (seen === undefined) {
      state.set(edge.to, 'open');
      stack.push({ directory: edge.to, via: edge.link, next: 0 });
    }
  }
  return undefined;
}
