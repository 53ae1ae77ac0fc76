import fc from 'fast-check';
import { boundedOutcome, fuzzParameters } from '../../test/support/fuzz';
import { InvalidReferenceError, canonicalRepositoryName, formatReference, parseOciReference, parseRepository } from './oci-reference';

/**
 * Property-based fuzzing of the reference parser: for any text it returns a reference that writes back
 * to the same text, or throws INVALID_REFERENCE, quickly; and every reference the grammar allows parses
 * into exactly its parts.
 */
const isInvalidReference = (error: unknown) => error instanceof InvalidReferenceError && error.code === 'INVALID_REFERENCE';
/** Far above a normal parse (well under 1 ms): it catches runaway work, not scheduling noise on a busy machine. */
const MAX_MS = 500;

/** Characters references are made of, and a few that they are not. */
const referenceCharacter = fc.constantFrom(...'abcxyzABCZ0189.-_:/@[]%\u0000 é'.split(''));
const VALID = [
  'registry.example.com/ns/comp:v1.2.3',
  `localhost:5000/a/b/c@sha256:${'a'.repeat(64)}`,
  `[2001:db8::1]:5000/repo:tag@sha256:${'f'.repeat(64)}`,
  '127.0.0.1:5000/e2e/app',
  'EXAMPLE.com:443/a/b__c-d.e',
];

function checkParsed(text: string): void {
  const outcome = boundedOutcome(() => parseOciReference(text), isInvalidReference, MAX_MS);
  if (outcome === 'returned') {
    const parsed = parseOciReference(text);
    expect(formatReference(parsed)).toBe(text);
    // The canonical name is itself a valid repository, and canonical already.
    const canonical = canonicalRepositoryName(parsed);
    expect(canonicalRepositoryName(parseRepository(canonical))).toBe(canonical);
  }
}

describe('parseOciReference under fuzzing', () => {
  it('returns or throws INVALID_REFERENCE for arbitrary text', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 1500 }), fc.string({ unit: referenceCharacter, maxLength: 300 })), checkParsed), fuzzParameters(500));
  });

  it('returns or throws INVALID_REFERENCE for mutations of valid references', () => {
    const mutated = fc
      .tuple(fc.constantFrom(...VALID), fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ unit: referenceCharacter, maxLength: 4 })), { minLength: 1, maxLength: 4 }))
      .map(([text, edits]) =>
        edits.reduce((current, [at, cut, insert]) => {
          const position = at % (current.length + 1);
          return current.slice(0, position) + insert + current.slice(position + cut);
        }, text),
      );
    fc.assert(fc.property(mutated, checkParsed), fuzzParameters(1500));
  });

  it('parses every reference the grammar allows into exactly its parts', () => {
    const label = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/).filter((l) => !/^[0-9]+$/.test(l) && !/^0x/i.test(l));
    const host = fc.oneof(
      fc.array(label, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.')),
      fc.constant('localhost'),
      fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.')),
      fc
        .ipV6()
        .map((address) => `[${address}]`)
        .filter((a) => !a.includes('.')),
    );
    const port = fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined });
    const component = fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+){0,3}$/).filter((c) => c.length <= 40);
    const tag = fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/), { nil: undefined });
    const digest = fc.option(
      fc.stringMatching(/^[0-9a-f]{64}$/).map((hex) => `sha256:${hex}`),
      { nil: undefined },
    );
    const parts = fc.record({ host, port, path: fc.array(component, { minLength: 1, maxLength: 5 }).map((c) => c.join('/')), tag, digest });
    fc.assert(
      fc.property(parts, ({ host, port, path, tag, digest }) => {
        const registry = port === undefined ? host : `${host}:${port}`;
        const text = `${registry}/${path}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
        expect(parseOciReference(text)).toEqual({ registry, repository: path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) });
      }),
      fuzzParameters(500),
    );
  });
});
