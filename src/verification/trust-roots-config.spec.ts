import { resolve } from 'node:path';
import { ConfigError } from '../config/config-error';
import { loadConfig } from '../config/config.schema';

const problemsOf = (trustRoots: string) => {
  try {
    loadConfig({ TRUST_ROOTS: trustRoots });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('TRUST_ROOTS', () => {
  it('is empty by default', () => {
    expect(loadConfig({}).verification.trustRoots).toEqual([]);
    expect(loadConfig({ TRUST_ROOTS: '' }).verification.trustRoots).toEqual([]);
  });

  it('reads name=path pairs, resolving the paths', () => {
    expect(loadConfig({ TRUST_ROOTS: 'staging=roots/staging.json, corp.prod = /etc/sigstore/prod.json,' }).verification.trustRoots).toEqual([
      { name: 'staging', file: resolve('roots/staging.json') },
      { name: 'corp.prod', file: '/etc/sigstore/prod.json' },
    ]);
  });

  it.each([
    ['staging', '"staging" must be name=path/to/trusted_root.json'],
    ['=roots/x.json', '"=roots/x.json" must be name=path/to/trusted_root.json'],
    ['staging=', '"staging=" must be name=path/to/trusted_root.json'],
    ['Staging=x.json', 'name "Staging" must be 1-63 lower-case letters, digits, dots, dashes or underscores'],
    ['public-good=x.json', "name public-good is reserved (public-good is Sigstore's root, default is SIGSTORE_TRUSTED_ROOT_FILE)"],
    ['default=x.json', "name default is reserved (public-good is Sigstore's root, default is SIGSTORE_TRUSTED_ROOT_FILE)"],
    ['a=x.json,a=y.json', 'name a is given twice'],
  ])('refuses %s', (value, message) => {
    expect(problemsOf(value)).toEqual([{ variable: 'TRUST_ROOTS', message }]);
  });
});
