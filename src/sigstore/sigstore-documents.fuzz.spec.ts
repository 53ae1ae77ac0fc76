import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { boundedOutcome, fuzzParameters, mutatedJson, mutatedJsonText } from '../../test/support/fuzz';
import { checkCertificateChain, readBundle, signingMaterialKind } from './bundle-document';
import { describeTrustedRoot, parseTrustedRoot, trustMaterialOf } from './trusted-root';
import { BundleVerificationError } from './verification-error';

/**
 * Property-based fuzzing of the readers of caller-supplied Sigstore documents (a bundle to verify, a
 * trusted root sent with it): for arbitrary JSON and text, and for mutations of real documents, each
 * returns or throws its coded BundleVerificationError, never another exception, quickly.
 */
const json = (path: string) => JSON.parse(readFileSync(join(__dirname, path), 'utf8')) as Parameters<typeof mutatedJson>[0];
const BUNDLES = ['__fixtures__/public-good-dsse.sigstore.json', '__fixtures__/public-good-hashedrekord.sigstore.json', '../openapi/examples/public-good-bundle.sigstore.json'].map(
  json,
);
const ROOTS = ['__fixtures__/public-good-trusted-root.json', '__fixtures__/local-stack-trusted-root.json'].map(json);
const isCoded = (error: unknown) => error instanceof BundleVerificationError && /^[A-Z][A-Z0-9_]+$/.test(error.code);
/** Far above a normal read (a few ms): it catches runaway work, not scheduling noise on a busy machine. */
const MAX_MS = 2_000;

/** Reads a bundle as the bundle verification request does before verifying it. */
const readAsRequestDoes = (input: unknown) => () => {
  const bundle = readBundle(input);
  checkCertificateChain(bundle);
  signingMaterialKind(bundle);
};
/** Reads a trusted root as a request's `trustedRoot` is read. */
const readRootAsRequestDoes = (input: unknown) => () => {
  const root = parseTrustedRoot(input);
  trustMaterialOf(root);
  describeTrustedRoot(root);
};

describe('Sigstore document readers under fuzzing', () => {
  it('reads the real documents', () => {
    for (const bundle of BUNDLES) expect(boundedOutcome(readAsRequestDoes(bundle), isCoded, MAX_MS)).toBe('returned');
    for (const root of ROOTS) expect(boundedOutcome(readRootAsRequestDoes(root), isCoded, MAX_MS)).toBe('returned');
  });

  it('bundles: arbitrary JSON and text, and mutated real bundles, read or refused with a coded error', () => {
    const input = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.string({ unit: 'binary', maxLength: 500 }),
      fc.constantFrom(...BUNDLES).chain((bundle) => mutatedJson(bundle)),
      fc.constantFrom(...BUNDLES).chain((bundle) => mutatedJsonText(bundle)),
    );
    fc.assert(
      fc.property(input, (value) => {
        boundedOutcome(readAsRequestDoes(value), isCoded, MAX_MS);
      }),
      fuzzParameters(600),
    );
  });

  it('trusted roots: arbitrary JSON and mutated real roots, read or refused with a coded error', () => {
    const input = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.constantFrom(...ROOTS).chain((root) => mutatedJson(root)),
      fc.constantFrom(...ROOTS).chain((root) =>
        mutatedJsonText(root).map((text) => {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            return text;
          }
        }),
      ),
    );
    fc.assert(
      fc.property(input, (value) => {
        boundedOutcome(readRootAsRequestDoes(value), isCoded, MAX_MS);
      }),
      fuzzParameters(600),
    );
  });
});
