import { BundleVerificationPool } from '../sigstore/bundle-verification-pool';
import { createHash } from 'node:crypto';
import { WholeStringRegExp } from '../common/caller-regexp';
import type { RegistryClient } from '../registry/registry-client';
import { cosignSignStatement } from '../signature-formats/sigstore-bundle-referrer';
import {
  type ParsedProvenance,
  type ProvenanceStatementInput,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  WASM_COMPONENT_BUILD_TYPE,
  resolvedSourceDependency,
  slsaProvenanceStatement,
} from '../signature-formats/slsa-provenance';
import type { SignerPolicy, StringMatcher } from '../sigstore/signer-policy';
import { SigstoreTestSigner, registryWithBundleReferrers } from './__fixtures__/sigstore-test-signer';
import { discoverSignatures } from './signature-discovery';
import {
  PROVENANCE_ERROR_CODES,
  type ProvenancePolicy,
  type ProvenanceVerdict,
  ProvenanceVerifier,
  bestVerdict,
  provenanceFailure,
  verifyProvenance,
} from './provenance-verification';

const BUILDER = 'https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer';
const OTHER = 'https://kubernetes.io/namespaces/other/serviceaccounts/builder';
const ISSUER = 'https://oidc.local.example';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const MANIFEST = `sha256:${sha256('manifest')}`;
const WASM = `sha256:${sha256('wasm')}`;
const SOURCE = `sha256:${sha256('source')}`;
const archive = { kind: 'archive' as const, digest: SOURCE, fileName: 'hello.tar.gz' };
const git = { kind: 'git' as const, url: 'https://git.example/org/hello', commit: 'c27d339ee6075c1f744c5d4b200f7901aad2c369' };

const exact = (value: string) => ({ kind: 'exact' as const, value });
const regexp = (source: string) => ({ kind: 'regexp' as const, source, regexp: WholeStringRegExp.compile(source) });
const signerPolicy = (identity: StringMatcher = exact(BUILDER)): SignerPolicy => ({ kind: 'certificate', identity, issuer: exact(ISSUER) });

function statementInput(overrides: Partial<ProvenanceStatementInput> = {}): ProvenanceStatementInput {
  const source = overrides.externalParameters?.source ?? archive;
  return {
    subjects: [
      { name: 'hello.wasm', digest: WASM },
      { name: 'registry.example/team/hello', digest: MANIFEST },
    ],
    externalParameters: { source, builder: { name: 'cargo', options: {} }, repository: 'registry.example/team/hello', tag: 'v1' },
    internalParameters: { toolchain: [{ name: 'rustc', version: '1.90.0', uri: 'pkg:generic/rustc@1.90.0' }], sandbox: { memoryBytes: 1073741824 } },
    resolvedDependencies: [resolvedSourceDependency(source)],
    builderId: BUILDER,
    invocationId: 'job-1',
    startedOn: '2026-03-04T05:06:07Z',
    finishedOn: '2026-03-04T05:07:08Z',
    byproducts: [{ name: 'build.log', digest: { sha256: sha256('log') } }],
    ...overrides,
  };
}

const parsed = (overrides: Partial<ParsedProvenance> = {}): ParsedProvenance => ({
  subjects: [
    { name: 'hello.wasm', digest: { sha256: WASM.slice(7) } },
    { name: 'registry.example/team/hello', digest: { sha256: MANIFEST.slice(7) } },
  ],
  buildType: WASM_COMPONENT_BUILD_TYPE,
  builderId: BUILDER,
  invocationId: 'job-1',
  source: archive,
  builder: 'cargo',
  ...overrides,
});

describe('provenanceFailure (the checks on a verified statement)', () => {
  const codeOf = (statement: ParsedProvenance, policy: ProvenancePolicy = {}, identity: string | null = BUILDER, digest = MANIFEST) =>
    provenanceFailure(statement, identity, digest, policy)?.code ?? null;

  it('passes a statement of ours that names the digest and the signer as builder, for an empty policy', () => {
    expect(provenanceFailure(parsed(), BUILDER, MANIFEST, {})).toBeNull();
    expect(codeOf(parsed(), {}, BUILDER, MANIFEST.toUpperCase().replace('SHA256', 'sha256'))).toBeNull();
  });

  it('passes every requirement a policy can state when the statement meets it', () => {
    expect(codeOf(parsed(), { builderId: exact(BUILDER), sourceDigest: SOURCE, builder: 'cargo' })).toBeNull();
    expect(codeOf(parsed(), { builderId: regexp('https://kubernetes\\.io/namespaces/wasm-signer/.+'), sourceDigest: SOURCE.toUpperCase().replace('SHA256', 'sha256') })).toBeNull();
    for (const repository of ['https://git.example/org/hello', 'https://git.example/org/hello.git', 'git+https://git.example/org/hello/', 'HTTPS://GIT.EXAMPLE/org/hello']) {
      expect({ repository, code: codeOf(parsed({ source: git }), { sourceRepository: repository }) }).toEqual({ repository, code: null });
    }
  });

  it('PROVENANCE_SUBJECT_MISMATCH: the artifact is not a subject (names what the statement does name)', () => {
    const failure = provenanceFailure(parsed({ subjects: [{ name: 'hello.wasm', digest: { sha256: WASM.slice(7) } }] }), BUILDER, MANIFEST, {});
    expect(failure).toEqual({ code: 'PROVENANCE_SUBJECT_MISMATCH', message: `${MANIFEST} is not a subject of the provenance (it names ${WASM})` });
    expect(codeOf(parsed({ subjects: [] }))).toBe('PROVENANCE_SUBJECT_MISMATCH');
    expect(codeOf(parsed({ subjects: [{ name: 'x', digest: { sha512: MANIFEST.slice(7) } }] }))).toBe('PROVENANCE_SUBJECT_MISMATCH');
  });

  it('PROVENANCE_BUILD_TYPE_UNKNOWN: provenance of another build type, even when all else matches', () => {
    expect(codeOf(parsed({ buildType: 'https://actions.github.io/buildtypes/workflow/v1' }))).toBe('PROVENANCE_BUILD_TYPE_UNKNOWN');
    expect(codeOf(parsed({ buildType: null }))).toBe('PROVENANCE_BUILD_TYPE_UNKNOWN');
    expect(codeOf(parsed({ buildType: `${WASM_COMPONENT_BUILD_TYPE}/` }))).toBe('PROVENANCE_BUILD_TYPE_UNKNOWN');
  });

  it('PROVENANCE_BUILDER_ID_MISMATCH: a builder id that is not the signer, or not the one the policy names', () => {
    expect(provenanceFailure(parsed({ builderId: OTHER }), BUILDER, MANIFEST, {})).toEqual({
      code: 'PROVENANCE_BUILDER_ID_MISMATCH',
      message: `the provenance names the builder "${OTHER}" but is signed by "${BUILDER}"`,
    });
    expect(codeOf(parsed({ builderId: null }))).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
    expect(codeOf(parsed(), {}, null)).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
    expect(codeOf(parsed(), { builderId: exact(OTHER) })).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
    expect(codeOf(parsed(), { builderId: regexp('https://kubernetes\\.io/namespaces/other/.+') })).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
    // Whole-string: a prefix does not match.
    expect(codeOf(parsed(), { builderId: regexp('https://kubernetes\\.io/namespaces/wasm-signer') })).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
  });

  it('PROVENANCE_SOURCE_MISMATCH: another archive, a git source where an archive is required and the reverse', () => {
    expect(provenanceFailure(parsed(), BUILDER, MANIFEST, { sourceDigest: `sha256:${sha256('other')}` })).toEqual({
      code: 'PROVENANCE_SOURCE_MISMATCH',
      message: `the source is the archive ${SOURCE}, not the archive sha256:${sha256('other')}`,
    });
    expect(codeOf(parsed({ source: git }), { sourceDigest: SOURCE })).toBe('PROVENANCE_SOURCE_MISMATCH');
    expect(codeOf(parsed(), { sourceRepository: 'https://git.example/org/hello' })).toBe('PROVENANCE_SOURCE_MISMATCH');
    expect(codeOf(parsed({ source: git }), { sourceRepository: 'https://git.example/org/hello-other' })).toBe('PROVENANCE_SOURCE_MISMATCH');
    expect(codeOf(parsed({ source: git }), { sourceRepository: 'https://git.example/ORG/hello' })).toBe('PROVENANCE_SOURCE_MISMATCH');
    expect(codeOf(parsed({ source: null }), { sourceDigest: SOURCE })).toBe('PROVENANCE_SOURCE_MISMATCH');
    // Without a source requirement, the source is not looked at.
    expect(codeOf(parsed({ source: null }))).toBeNull();
  });

  it('PROVENANCE_BUILDER_MISMATCH: built with another builder, or the statement does not say', () => {
    expect(provenanceFailure(parsed(), BUILDER, MANIFEST, { builder: 'componentize-js' })).toEqual({
      code: 'PROVENANCE_BUILDER_MISMATCH',
      message: 'the component was built with "cargo", not "componentize-js"',
    });
    expect(codeOf(parsed({ builder: null }), { builder: 'cargo' })).toBe('PROVENANCE_BUILDER_MISMATCH');
    expect(codeOf(parsed(), { builder: 'Cargo' })).toBe('PROVENANCE_BUILDER_MISMATCH');
  });

  it('reports the first failed check, in the order of the codes', () => {
    const everythingWrong = parsed({ subjects: [], buildType: null, builderId: OTHER, source: git, builder: 'jco' });
    const policy = { sourceDigest: SOURCE, builder: 'cargo' };
    expect(codeOf(everythingWrong, policy)).toBe('PROVENANCE_SUBJECT_MISMATCH');
    expect(codeOf({ ...everythingWrong, subjects: parsed().subjects }, policy)).toBe('PROVENANCE_BUILD_TYPE_UNKNOWN');
    expect(codeOf({ ...everythingWrong, subjects: parsed().subjects, buildType: WASM_COMPONENT_BUILD_TYPE }, policy)).toBe('PROVENANCE_BUILDER_ID_MISMATCH');
    expect(codeOf({ ...everythingWrong, subjects: parsed().subjects, buildType: WASM_COMPONENT_BUILD_TYPE, builderId: BUILDER }, policy)).toBe('PROVENANCE_SOURCE_MISMATCH');
    expect(codeOf({ ...everythingWrong, subjects: parsed().subjects, buildType: WASM_COMPONENT_BUILD_TYPE, builderId: BUILDER, source: archive }, policy)).toBe(
      'PROVENANCE_BUILDER_MISMATCH',
    );
  });
});

describe('bestVerdict', () => {
  const verdict = (code: keyof typeof PROVENANCE_ERROR_CODES | null, location: string): ProvenanceVerdict => ({
    verified: code === null,
    logIndex: 1,
    builderId: null,
    builder: null,
    source: null,
    invocationId: null,
    location,
    error: code === null ? null : { code, message: code },
  });

  it('is PROVENANCE_MISSING when there is no attestation', () => {
    expect(bestVerdict([], MANIFEST)).toEqual({
      verified: false,
      logIndex: null,
      builderId: null,
      builder: null,
      source: null,
      invocationId: null,
      location: null,
      error: {
        code: 'PROVENANCE_MISSING',
        message: `no SLSA provenance attestation (a Sigstore bundle referrer of predicate type https://slsa.dev/provenance/v1) was found for ${MANIFEST}`,
      },
    });
  });

  it('takes an attestation that verifies over any failure, the newest of several', () => {
    expect(
      bestVerdict([verdict('PROVENANCE_BUILDER_MISMATCH', 'a'), verdict(null, 'b'), verdict(null, 'c'), verdict('PROVENANCE_SIGNATURE_INVALID', 'd')], MANIFEST).location,
    ).toBe('c');
  });

  it('else the failure that got furthest through the checks, the newest of equals', () => {
    const verdicts = [
      verdict('PROVENANCE_SOURCE_MISMATCH', 'a'),
      verdict('PROVENANCE_SUBJECT_MISMATCH', 'b'),
      verdict('PROVENANCE_SOURCE_MISMATCH', 'c'),
      verdict('PROVENANCE_SIGNATURE_INVALID', 'd'),
    ];
    expect(bestVerdict(verdicts, MANIFEST)).toMatchObject({ location: 'c', error: { code: 'PROVENANCE_SOURCE_MISMATCH' } });
    expect(bestVerdict([verdict('PROVENANCE_SIGNATURE_INVALID', 'a'), verdict('PROVENANCE_STATEMENT_INVALID', 'b')], MANIFEST).location).toBe('b');
  });
});

/** Real keyless DSSE bundles (a test Fulcio and Rekor on loopback), attached as referrers as the service attaches them. */
describe('verifyProvenance with signed attestations', () => {
  let signer: SigstoreTestSigner;
  const repo = { registry: 'registry.example', repository: 'team/hello' };

  beforeAll(async () => {
    signer = await SigstoreTestSigner.start();
  });

  afterAll(async () => {
    await signer?.close();
  });

  const trust = () => ({ name: 'test', material: signer.trustMaterial });

  const registryWith = (referrers: { bundle: Record<string, unknown>; predicateType?: string }[]) => registryWithBundleReferrers(MANIFEST, referrers);

  const sign = (input: ProvenanceStatementInput | Buffer, identity = BUILDER) =>
    signer.signStatement(Buffer.isBuffer(input) ? input : slsaProvenanceStatement(input), identity, ISSUER);
  const attested = (bundle: Record<string, unknown>) => ({ bundle, predicateType: SLSA_PROVENANCE_PREDICATE_TYPE });
  const verify = (registry: RegistryClient, provenance: ProvenancePolicy = {}, signerIdentity: StringMatcher = exact(BUILDER)) =>
    verifyProvenance(registry, repo, MANIFEST, { signer: signerPolicy(signerIdentity), provenance }, trust(), undefined, { verifier: new ProvenanceVerifier() });

  let valid: Record<string, unknown>;
  beforeAll(async () => {
    valid = await sign(statementInput());
  });

  it('verifies the provenance of a build and reports what it says', async () => {
    const verdict = await verify(registryWith([attested(valid)]), { builderId: exact(BUILDER), sourceDigest: SOURCE, builder: 'cargo' });
    expect(verdict).toEqual({
      verified: true,
      logIndex: expect.any(Number),
      builderId: BUILDER,
      builder: 'cargo',
      source: archive,
      invocationId: 'job-1',
      location: expect.stringMatching(/^referrer sha256:[0-9a-f]{64}$/),
      error: null,
    });
  });

  it('PROVENANCE_MISSING: only a signature is attached', async () => {
    const signature = await signer.signStatement(cosignSignStatement({ manifestDigest: MANIFEST }), BUILDER, ISSUER);
    const verdict = await verify(registryWith([{ bundle: signature }]));
    expect(verdict).toMatchObject({ verified: false, location: null, error: { code: 'PROVENANCE_MISSING' } });
  });

  it('PROVENANCE_SIGNATURE_INVALID: signed by an identity the signer policy does not accept', async () => {
    const bundle = await sign(statementInput({ builderId: OTHER }), OTHER);
    const verdict = await verify(registryWith([attested(bundle)]));
    expect(verdict).toMatchObject({
      verified: false,
      builderId: null,
      error: { code: 'PROVENANCE_SIGNATURE_INVALID', message: expect.stringMatching(/^POLICY_IDENTITY_MISMATCH: /) },
    });
  });

  it('PROVENANCE_SIGNATURE_INVALID: a statement changed after signing', async () => {
    const statement = JSON.parse(slsaProvenanceStatement(statementInput()).toString('utf8')) as {
      predicate: { buildDefinition: { externalParameters: { builder: { name: string } } } };
    };
    statement.predicate.buildDefinition.externalParameters.builder.name = 'componentize-js';
    const envelope = valid.dsseEnvelope as Record<string, unknown>;
    const tampered = { ...valid, dsseEnvelope: { ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') } };
    const verdict = await verify(registryWith([attested(tampered)]), { builder: 'componentize-js' });
    expect(verdict).toMatchObject({ verified: false, error: { code: 'PROVENANCE_SIGNATURE_INVALID' } });
  });

  it('PROVENANCE_SIGNATURE_INVALID: certified by a Fulcio the trust root does not trust', async () => {
    const elsewhere = await SigstoreTestSigner.start();
    try {
      const bundle = await elsewhere.signStatement(slsaProvenanceStatement(statementInput()), BUILDER, ISSUER);
      const verdict = await verify(registryWith([attested(bundle)]));
      expect(verdict).toMatchObject({ verified: false, error: { code: 'PROVENANCE_SIGNATURE_INVALID' } });
    } finally {
      await elsewhere.close();
    }
  });

  it('PROVENANCE_SIGNATURE_INVALID: a referrer whose bundle cannot be read', async () => {
    const verdict = await verify(registryWith([attested({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' })]));
    expect(verdict).toMatchObject({ verified: false, error: { code: 'PROVENANCE_SIGNATURE_INVALID', message: expect.stringMatching(/^BUNDLE_MALFORMED: /) } });
  });

  it('PROVENANCE_STATEMENT_INVALID: a signature statement attached as provenance', async () => {
    const signature = await signer.signStatement(cosignSignStatement({ manifestDigest: MANIFEST }), BUILDER, ISSUER);
    const verdict = await verify(registryWith([attested(signature)]));
    expect(verdict).toMatchObject({ verified: false, error: { code: 'PROVENANCE_STATEMENT_INVALID' } });
  });

  it('PROVENANCE_SUBJECT_MISMATCH: the provenance of another artifact', async () => {
    const bundle = await sign(statementInput({ subjects: [{ name: 'other.wasm', digest: `sha256:${sha256('other')}` }] }));
    const verdict = await verify(registryWith([attested(bundle)]));
    expect(verdict).toMatchObject({ verified: false, builderId: BUILDER, error: { code: 'PROVENANCE_SUBJECT_MISMATCH' } });
  });

  it('PROVENANCE_BUILD_TYPE_UNKNOWN: SLSA provenance of another build type', async () => {
    const statement = JSON.parse(slsaProvenanceStatement(statementInput()).toString('utf8')) as { predicate: { buildDefinition: { buildType: string } } };
    statement.predicate.buildDefinition.buildType = 'https://actions.github.io/buildtypes/workflow/v1';
    const verdict = await verify(registryWith([attested(await sign(Buffer.from(JSON.stringify(statement))))]));
    expect(verdict).toMatchObject({ verified: false, error: { code: 'PROVENANCE_BUILD_TYPE_UNKNOWN' } });
  });

  it('PROVENANCE_BUILDER_ID_MISMATCH: a statement that names another builder than the identity that signed it', async () => {
    // The signer policy accepts both identities: only the check of builder id against the certificate refuses it.
    const bundle = await sign(statementInput({ builderId: OTHER }), BUILDER);
    const verdict = await verify(registryWith([attested(bundle)]), {}, regexp('https://kubernetes\\.io/namespaces/.+'));
    expect(verdict).toMatchObject({ verified: false, builderId: OTHER, error: { code: 'PROVENANCE_BUILDER_ID_MISMATCH' } });
  });

  it('PROVENANCE_BUILDER_ID_MISMATCH: a builder id the policy does not name', async () => {
    const verdict = await verify(
      registryWith([attested(valid)]),
      { builderId: regexp('https://kubernetes\\.io/namespaces/other/.+') },
      regexp('https://kubernetes\\.io/namespaces/.+'),
    );
    expect(verdict).toMatchObject({ verified: false, error: { code: 'PROVENANCE_BUILDER_ID_MISMATCH' } });
  });

  it('PROVENANCE_SOURCE_MISMATCH and PROVENANCE_BUILDER_MISMATCH: built from other source, or with another builder', async () => {
    const registry = registryWith([attested(valid)]);
    expect(await verify(registry, { sourceDigest: `sha256:${sha256('other')}` })).toMatchObject({
      verified: false,
      source: archive,
      error: { code: 'PROVENANCE_SOURCE_MISMATCH' },
    });
    expect(await verify(registry, { sourceRepository: git.url })).toMatchObject({ verified: false, error: { code: 'PROVENANCE_SOURCE_MISMATCH' } });
    expect(await verify(registry, { builder: 'componentize-js' })).toMatchObject({ verified: false, builder: 'cargo', error: { code: 'PROVENANCE_BUILDER_MISMATCH' } });
  });

  it('verifies a git build by its repository', async () => {
    const bundle = await sign(
      statementInput({ externalParameters: { source: git, builder: { name: 'cargo', options: {} }, repository: 'registry.example/team/hello', tag: null } }),
    );
    expect(await verify(registryWith([attested(bundle)]), { sourceRepository: 'https://git.example/org/hello.git' })).toMatchObject({ verified: true, source: git });
  });

  it('of several attestations: verified when any satisfies the policy, else the failure that got furthest', async () => {
    const otherArtifact = await sign(statementInput({ subjects: [{ name: 'other.wasm', digest: `sha256:${sha256('other')}` }] }));
    const jco = await sign(
      statementInput({ externalParameters: { source: archive, builder: { name: 'jco', options: {} }, repository: 'registry.example/team/hello', tag: null } }),
    );
    const policy = { builder: 'cargo' };
    expect(await verify(registryWith([attested(otherArtifact), attested(valid), attested(jco)]), policy)).toMatchObject({ verified: true, builder: 'cargo' });
    expect(await verify(registryWith([attested(jco), attested(otherArtifact)]), policy)).toMatchObject({
      verified: false,
      builder: 'jco',
      error: { code: 'PROVENANCE_BUILDER_MISMATCH' },
    });
  });

  it('tells attestations from signatures by the predicate type the referrer names', async () => {
    // The same SLSA bundle attached as a signature would be (cosign sign type): not provenance.
    expect(await verify(registryWith([{ bundle: valid }]))).toMatchObject({ verified: false, error: { code: 'PROVENANCE_MISSING' } });
    // Attached as provenance: not a signature.
    const registry = registryWith([attested(valid)]);
    expect(await discoverSignatures(registry, repo, MANIFEST)).toEqual([]);
    expect(await verify(registry)).toMatchObject({ verified: true });
  });

  it('keeps the outcome of a bundle it verified (by content): the second verification does not verify again', async () => {
    const pool = new BundleVerificationPool();
    const bundleVerifications = jest.spyOn(pool, 'verify');
    const verifier = new ProvenanceVerifier({ pool });
    const registry = registryWith([attested(valid)]);
    const policy = { signer: signerPolicy(), provenance: {} };
    const sameTrust = trust();
    const first = await verifyProvenance(registry, repo, MANIFEST, policy, sameTrust, undefined, { verifier });
    expect(first.verified).toBe(true);
    expect(await verifyProvenance(registry, repo, MANIFEST, policy, sameTrust, undefined, { verifier })).toEqual(first);
    expect(bundleVerifications).toHaveBeenCalledTimes(1);

    // Other trust material under the same name (a trust root reloaded with other contents) is not
    // answered from the memo: this one trusts no CA.
    const nothing = { name: 'test', material: { ...signer.trustMaterial, certificateAuthorities: [] } };
    expect(await verifyProvenance(registry, repo, MANIFEST, policy, nothing, undefined, { verifier })).toMatchObject({
      verified: false,
      error: { code: 'PROVENANCE_SIGNATURE_INVALID' },
    });
    expect(bundleVerifications).toHaveBeenCalledTimes(2);
  });
});
