import { MAX_SYMLINKS, findLinkProblem, type SourceNode } from './source-links';

/** A tree from `path: target` links, `path/` directories and plain files. */
function tree(...entries: string[]): Map<string, SourceNode> {
  const nodes = new Map<string, SourceNode>();
  for (const entry of entries) {
    const [path, target] = entry.split(' -> ') as [string, string | undefined];
    const parts = path.replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i++) nodes.set(parts.slice(0, i).join('/'), { kind: 'directory' });
    nodes.set(parts.join('/'), target !== undefined ? { kind: 'symlink', target } : path.endsWith('/') ? { kind: 'directory' } : { kind: 'file' });
  }
  return nodes;
}

describe('findLinkProblem', () => {
  it('accepts links that resolve inside the tree, also through other links and to missing paths', () => {
    expect(
      findLinkProblem(tree('src/main.rs', 'main -> src/main.rs', 'docs/readme -> ../src/../src/main.rs', 'alias -> src', 'deep -> alias/main.rs', 'dangling -> not/there')),
    ).toBeUndefined();
    expect(findLinkProblem(tree('a/b/c/', 'x/y -> ../a/b', 'z -> x/y/c/../..'))).toBeUndefined();
  });

  it('refuses absolute links and links that climb out, as the kernel resolves them', () => {
    expect(findLinkProblem(tree('f', 'l -> /etc/passwd'))).toMatchObject({ path: 'l', reason: 'absolute' });
    expect(findLinkProblem(tree('f', 'a/l -> ../../etc'))).toMatchObject({ path: 'a/l', reason: 'escapes' });
    // l2's target reads as a/x, but l1 is replaced by its target (../../c) before the ".." that follows it
    expect(findLinkProblem(tree('c/', 'a/b/l1 -> ../../c', 'a/b/l2 -> l1/../../x'))).toMatchObject({ path: 'a/b/l2', reason: 'escapes' });
    // through a link to an absolute path
    expect(findLinkProblem(tree('out -> /tmp', 'via -> out/x'))).toMatchObject({ reason: 'absolute' });
  });

  it('refuses links that cannot be resolved (a -> b -> a) and directory loops, in any order of discovery', () => {
    expect(findLinkProblem(tree('a -> b', 'b -> a'))).toMatchObject({ reason: 'too many levels of links' });
    expect(findLinkProblem(tree('self -> self'))).toMatchObject({ reason: 'too many levels of links' });
    expect(findLinkProblem(tree('f', 'here -> .'))).toMatchObject({ path: 'here', reason: 'directory loop' });
    expect(findLinkProblem(tree('sub/up -> ..'))).toMatchObject({ path: 'sub/up', reason: 'directory loop' });
    expect(findLinkProblem(tree('x/to-y -> ../y', 'y/to-x -> ../x'))).toMatchObject({ reason: 'directory loop' });
    // Reached first through a/l, p/c leads back to p, whose subdirectory edge closes the cycle: the link on it is named.
    expect(findLinkProblem(tree('a/', 'p/c/', 'a/l -> ../p/c', 'p/c/up -> ..'))).toMatchObject({ path: 'p/c/up', reason: 'directory loop' });
  });
});

describe('the number of links', () => {
  it(`refuses a tree with more than ${MAX_SYMLINKS} symbolic links, naming the first one too many`, () => {
    const nodes = new Map<string, SourceNode>([['a.txt', { kind: 'file' }]]);
    for (let i = 0; i <= MAX_SYMLINKS; i++) nodes.set(`l${i}`, { kind: 'symlink', target: 'a.txt' });
    expect(findLinkProblem(nodes)).toEqual({ path: `l${MAX_SYMLINKS}`, target: 'a.txt', reason: 'too many links' });
    nodes.delete(`l${MAX_SYMLINKS}`);
    expect(findLinkProblem(nodes)).toBeUndefined();
  });
});
