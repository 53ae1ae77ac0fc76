import { repositoryScope, scopeCovers } from './registry-auth';

describe('token scopes', () => {
  it('asks for pull, or pull and push', () => {
    expect(repositoryScope('ns/comp', 'pull')).toBe('repository:ns/comp:pull');
    expect(repositoryScope('ns/comp', 'push')).toBe('repository:ns/comp:pull,push');
  });

  it('knows when one scope already grants another', () => {
    expect(scopeCovers('repository:a/b:pull,push', 'repository:a/b:pull')).toBe(true);
    expect(scopeCovers('repository:a/b:pull,push', 'repository:a/b:push,pull')).toBe(true);
    expect(scopeCovers('repository:a/b:pull', 'repository:a/b:pull,push')).toBe(false);
    expect(scopeCovers('repository:a/b:pull,push', 'repository:a/c:pull')).toBe(false);
    expect(scopeCovers('repository:a/b:*', 'repository:a/b:delete')).toBe(true);
    expect(scopeCovers('registry:catalog:*', 'registry:catalog:*')).toBe(true);
    expect(scopeCovers('odd', 'odd')).toBe(true);
    expect(scopeCovers('odd', 'other')).toBe(false);
  });
});
