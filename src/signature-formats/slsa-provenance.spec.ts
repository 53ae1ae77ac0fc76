import { CodedError } from '../common/coded-error';
import {
  MAX_PROVENANCE_BYTES,
  type ProvenanceStatementInput,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  WASM_COMPONENT_BUILD_TYPE,
  parseSlsaProvenance,
  resolvedSourceDependency,
  slsaProvenanceStatement,
} from './slsa-provenance';

const WASM_HEX = '1'.repeat(64);
const MANIFEST_HEX = '2'.repeat(64);
const SOURCE_HEX = '3'.repeat(64);
const LOCK_HEX = '4'.repeat(64);
const TOOL_HEX = '5'.repeat(64);
const LOG_HEX = '6'.repeat(64);
const BUILDER_ID = 'https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer';

const archive = { kind: 'archive' as const, digest: `sha256:${SOURCE_HEX}`, fileName: 'hello.tar.gz' };

function input(overrides: Partial<ProvenanceStatementInput> = {}): ProvenanceStatementInput {
  return {
    subjects: [
      { name: 'hello.wasm', digest: `sha256:${WASM_HEX}` },
      { name: 'registry.example:5000/team/hello', digest: `sha256:${MANIFEST_HEX}` },
    ],
    externalParameters: {
      source: archive,
      builder: { name: 'cargo', options: { release: true, features: ['http'] } },
      repository: 'registry.example:5000/team/hello',
      tag: 'v1.0.0',
    },
    internalParameters: {
      toolchain: [{ name: 'rustc', version: '1.90.0', uri: 'pkg:generic/rustc@1.90.0', digest: { sha256: TOOL_HEX } }],
      sandbox: { memoryBytes: 2147483648, cpuSeconds: 600, network: false },
    },
    resolvedDependencies: [resolvedSourceDependency(archive), { name: 'Cargo.lock', digest: { sha256: LOCK_HEX } }],
    builderId: BUILDER_ID,
    invocationId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    startedOn: '2026-03-04T05:06:07Z',
    finishedOn: '2026-03-04T05:07:08Z',
    byproducts: [{ name: 'build.log', digest: { sha256: LOG_HEX }, mediaType: 'text/plain; charset=utf-8' }],
    ...overrides,
  };
}

describe('constants', () => {
  it('are the SLSA v1 predicate type and our build type', () => {
    expect(SLSA_PROVENANCE_PREDICATE_TYPE).toBe('https://slsa.dev/provenance/v1');
    expect(WASM_COMPONENT_BUILD_TYPE).toBe('https://wasm-signer.dev/build-types/component/v1');
  });
});

describe('slsaProvenanceStatement', () => {
  it('writes the statement byte for byte', () => {
    expect(slsaProvenanceStatement(input()).toString('utf8')).toBe(
      '{"_type":"https://in-toto.io/Statement/v1",' +
        `"subject":[{"name":"hello.wasm","digest":{"sha256":"${WASM_HEX}"}},{"name":"registry.example:5000/team/hello","digest":{"sha256":"${MANIFEST_HEX}"}}],` +
        '"predicateType":"https://slsa.dev/provenance/v1",' +
        '"predicate":{"buildDefinition":{"buildType":"https://wasm-signer.dev/build-types/component/v1",' +
        `"externalParameters":{"source":{"kind":"archive","digest":"sha256:${SOURCE_HEX}","fileName":"hello.tar.gz"},` +
        '"builder":{"name":"cargo","options":{"features":["http"],"release":true}},' +
        '"repository":"registry.example:5000/team/hello","tag":"v1.0.0"},' +
        `"internalParameters":{"toolchain":[{"name":"rustc","version":"1.90.0","uri":"pkg:generic/rustc@1.90.0","digest":{"sha256":"${TOOL_HEX}"}}],` +
        '"sandbox":{"cpuSeconds":600,"memoryBytes":2147483648,"network":false}},' +
        `"resolvedDependencies":[{"name":"source","uri":"urn:wasm-signer:source-archive:sha256:${SOURCE_HEX}","digest":{"sha256":"${SOURCE_HEX}"}},` +
        `{"name":"Cargo.lock","digest":{"sha256":"${LOCK_HEX}"}}]},` +
        `"runDetails":{"builder":{"id":"${BUILDER_ID}"},` +
        '"metadata":{"invocationId":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","startedOn":"2026-03-04T05:06:07Z","finishedOn":"2026-03-04T05:07:08Z"},' +
        `"byproducts":[{"name":"build.log","digest":{"sha256":"${LOG_HEX}"},"mediaType":"text/plain; charset=utf-8"}]}}}`,
    );
  });

  it('writes a git source, a null tag and a toolchain entry without digest', () => {
    const git = { kind: 'git' as const, url: 'https://git.example/org/hello', commit: 'a'.repeat(40) };
    const statement = JSON.parse(
      slsaProvenanceStatement(
        input({
          externalParameters: { ...input().externalParameters, source: git, tag: null },
          internalParameters: { toolchain: [{ name: 'jco', version: '1.35.0', uri: 'pkg:npm/%40bytecodealliance/jco@1.35.0' }], sandbox: {} },
          resolvedDependencies: [resolvedSourceDependency(git)],
        }),
      ).toString('utf8'),
    ) as Record<string, any>;
    expect(statement.predicate.buildDefinition.externalParameters).toEqual({
      source: git,
      builder: { name: 'cargo', options: { features: ['http'], release: true } },
      repository: 'registry.example:5000/team/hello',
      tag: null,
    });
    expect(statement.predicate.buildDefinition.internalParameters.toolchain).toEqual([{ name: 'jco', version: '1.35.0', uri: 'pkg:npm/%40bytecodealliance/jco@1.35.0' }]);
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual([
      { name: 'source', uri: `git+https://git.example/org/hello@${'a'.repeat(40)}`, digest: { gitCommit: 'a'.repeat(40) } },
    ]);
  });

  it('gives the same bytes whatever the key order of the open records', () => {
    const reordered = input({
      externalParameters: { ...input().externalParameters, builder: { name: 'cargo', options: { release: true, features: ['http'] } } },
      internalParameters: { ...input().internalParameters, sandbox: { network: false, cpuSeconds: 600, memoryBytes: 2147483648 } },
    });
    const nested = (options: Record<string, unknown>) =>
      slsaProvenanceStatement(input({ externalParameters: { ...input().externalParameters, builder: { name: 'cargo', options } } })).toString('utf8');
    expect(slsaProvenanceStatement(reordered).equals(slsaProvenanceStatement(input()))).toBe(true);
    expect(nested({ b: { z: 1, a: [{ y: 2, x: 1 }] }, a: 0 })).toBe(nested({ a: 0, b: { a: [{ x: 1, y: 2 }], z: 1 } }));
    expect(nested({ b: { z: 1, a: [{ y: 2, x: 1 }] }, a: 0 })).toContain('"options":{"a":0,"b":{"a":[{"x":1,"y":2}],"z":1}}');
  });

  it('leaves out what is undefined, and never writes null where the input had nothing', () => {
    const text = slsaProvenanceStatement(
      input({
        externalParameters: { ...input().externalParameters, builder: { name: 'cargo', options: { release: undefined, profile: 'small' } } },
        resolvedDependencies: [{ digest: { sha256: LOCK_HEX } }],
        byproducts: [{ name: 'build.log', digest: { sha256: LOG_HEX } }],
      }),
    ).toString('utf8');
    expect(text).toContain('"options":{"profile":"small"}');
    expect(text).toContain(`"resolvedDependencies":[{"digest":{"sha256":"${LOCK_HEX}"}}]`);
    expect(text).toContain(`"byproducts":[{"name":"build.log","digest":{"sha256":"${LOG_HEX}"}}]`);
    expect(text).not.toContain('undefined');
    // The only nulls are the ones the input gave (none here).
    expect(text).not.toContain('null');
  });

  it('writes hex digests in lower case and digest maps with sorted keys', () => {
    const statement = JSON.parse(
      slsaProvenanceStatement(
        input({
          subjects: [{ name: 'hello.wasm', digest: `sha256:${'AB'.repeat(32)}` }],
          resolvedDependencies: [{ name: 'x', digest: { sha512: 'CD'.repeat(64), sha256: 'EF'.repeat(32) } }],
        }),
      ).toString('utf8'),
    ) as Record<string, any>;
    expect(statement.subject).toEqual([{ name: 'hello.wasm', digest: { sha256: 'ab'.repeat(32) } }]);
    expect(Object.keys(statement.predicate.buildDefinition.resolvedDependencies[0].digest)).toEqual(['sha256', 'sha512']);
    expect(statement.predicate.buildDefinition.resolvedDependencies[0].digest.sha512).toBe('cd'.repeat(64));
  });

  it.each([
    ['a subject digest without algorithm', input({ subjects: [{ name: 'x', digest: WASM_HEX }] }), /subjects\[0\]\.digest/],
    ['a dependency without digest', input({ resolvedDependencies: [{ name: 'x', digest: {} }] }), /resolvedDependencies\[0\]\.digest names no digest/],
    ['a non-hex digest', input({ byproducts: [{ name: 'log', digest: { sha256: 'not hex' } }] }), /byproducts\[0\]\.digest\.sha256 is not a hex string/],
    ['a date that is not RFC 3339', input({ startedOn: '4 March 2026' }), /startedOn "4 March 2026" is not an RFC 3339 date-time/],
    [
      'NaN in the options',
      input({ externalParameters: { ...input().externalParameters, builder: { name: 'cargo', options: { jobs: Number.NaN } } } }),
      /builder\.options\.jobs is NaN/,
    ],
    ['a Date in the sandbox', input({ internalParameters: { toolchain: [], sandbox: { until: new Date(0) } } }), /sandbox\.until is a non-plain object/],
    ['undefined in a list', input({ internalParameters: { toolchain: [], sandbox: { paths: ['/a', undefined] } } }), /sandbox\.paths\[1\] is undefined/],
    ['a bigint', input({ internalParameters: { toolchain: [], sandbox: { bytes: 1n } } }), /sandbox\.bytes is a bigint/],
  ])('refuses %s with PROVENANCE_INPUT_INVALID', (_what, bad, message) => {
    let thrown: unknown;
    try {
      slsaProvenanceStatement(bad);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodedError);
    expect(thrown).toMatchObject({ code: 'PROVENANCE_INPUT_INVALID', message: expect.stringMatching(message) });
  });
});

describe('resolvedSourceDependency', () => {
  it('names an archive by its content digest', () => {
    expect(resolvedSourceDependency(archive)).toEqual({ name: 'source', uri: `urn:wasm-signer:source-archive:sha256:${SOURCE_HEX}`, digest: { sha256: SOURCE_HEX } });
    expect(resolvedSourceDependency({ ...archive, fileName: null })).toEqual(resolvedSourceDependency(archive));
  });

  it('names a git commit in SPDX download location form, the commit as gitCommit', () => {
    const commit = 'C27D339EE6075C1F744C5D4B200F7901AAD2C369';
    expect(resolvedSourceDependency({ kind: 'git', url: 'https://git.example/org/repo', commit })).toEqual({
      name: 'source',
      uri: 'git+https://git.example/org/repo@c27d339ee6075c1f744c5d4b200f7901aad2c369',
      digest: { gitCommit: 'c27d339ee6075c1f744c5d4b200f7901aad2c369' },
    });
    expect(resolvedSourceDependency({ kind: 'git', url: 'git+ssh://git.example/org/repo', commit: 'b'.repeat(64) }).uri).toBe(`git+ssh://git.example/org/repo@${'b'.repeat(64)}`);
  });

  it('refuses a commit that is not a full object id', () => {
    expect(() => resolvedSourceDependency({ kind: 'git', url: 'https://git.example/org/repo', commit: 'main' })).toThrow(/not a full 40- or 64-character hex object id/);
  });
});

describe('parseSlsaProvenance', () => {
  it('reads back what slsaProvenanceStatement wrote', () => {
    expect(parseSlsaProvenance(slsaProvenanceStatement(input()))).toEqual({
      subjects: [
        { name: 'hello.wasm', digest: { sha256: WASM_HEX } },
        { name: 'registry.example:5000/team/hello', digest: { sha256: MANIFEST_HEX } },
      ],
      buildType: WASM_COMPONENT_BUILD_TYPE,
      builderId: BUILDER_ID,
      invocationId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      source: archive,
      builder: 'cargo',
    });
    const git = { kind: 'git' as const, url: 'https://git.example/org/hello', commit: 'a'.repeat(40) };
    expect(parseSlsaProvenance(slsaProvenanceStatement(input({ externalParameters: { ...input().externalParameters, source: git } })))!.source).toEqual(git);
  });

  it("reads another builder's provenance (GitHub's workflow build type), with nulls for what ours would have", () => {
    const github = {
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          buildType: 'https://actions.github.io/buildtypes/workflow/v1',
          externalParameters: { workflow: { ref: 'refs/heads/main', repository: 'https://github.com/octo/hello', path: '.github/workflows/release.yml' } },
        },
        runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' }, metadata: { invocationId: 'https://github.com/octo/hello/actions/runs/1/attempts/1' } },
      },
      subject: [{ name: '_', digest: { sha256: WASM_HEX } }, 'not a subject', { digest: { sha256: 7 } }],
    };
    expect(parseSlsaProvenance(Buffer.from(JSON.stringify(github)))).toEqual({
      subjects: [
        { name: '_', digest: { sha256: WASM_HEX } },
        { name: null, digest: {} },
      ],
      buildType: 'https://actions.github.io/buildtypes/workflow/v1',
      builderId: 'https://github.com/actions/runner/github-hosted',
      invocationId: 'https://github.com/octo/hello/actions/runs/1/attempts/1',
      source: null,
      builder: null,
    });
  });

  it('accepts an in-toto v0.1 statement type with the SLSA v1 predicate', () => {
    const statement = { _type: 'https://in-toto.io/Statement/v0.1', predicateType: SLSA_PROVENANCE_PREDICATE_TYPE, subject: [], predicate: {} };
    expect(parseSlsaProvenance(Buffer.from(JSON.stringify(statement)))).toEqual({
      subjects: [],
      buildType: null,
      builderId: null,
      invocationId: null,
      source: null,
      builder: null,
    });
  });

  it.each([
    ['not JSON', Buffer.from('{"_type":')],
    ['a JSON list', Buffer.from('[]')],
    ['JSON null', Buffer.from('null')],
    ['another statement type', Buffer.from(JSON.stringify({ _type: 'https://example.com/Statement', predicateType: SLSA_PROVENANCE_PREDICATE_TYPE, subject: [] }))],
    [
      'cosign sign statement',
      Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://sigstore.dev/cosign/sign/v1', subject: [], predicate: {} })),
    ],
    ['SLSA v0.2', Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [], predicate: {} }))],
    ['no subject list', Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: SLSA_PROVENANCE_PREDICATE_TYPE, subject: {}, predicate: {} }))],
  ])('refuses %s', (_what, payload) => {
    expect(parseSlsaProvenance(payload)).toBeUndefined();
  });

  it('refuses a statement over the size limit without reading it, and reads one at the limit', () => {
    const head = Buffer.from(slsaProvenanceStatement(input()).toString('utf8').replace(/}$/, ',"padding":"'));
    const at = Buffer.concat([head, Buffer.alloc(MAX_PROVENANCE_BYTES - head.length - 2, 'x'), Buffer.from('"}')]);
    expect(at.length).toBe(MAX_PROVENANCE_BYTES);
    expect(parseSlsaProvenance(at)?.builder).toBe('cargo');
    const over = Buffer.concat([head, Buffer.alloc(MAX_PROVENANCE_BYTES - head.length - 1, 'x'), Buffer.from('"}')]);
    expect(parseSlsaProvenance(over)).toBeUndefined();
  });

  it('reads wrongly typed fields as null, never throws', () => {
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
      subject: [{ name: 5, digest: 'sha256:x' }],
      predicate: {
        buildDefinition: { buildType: 1, externalParameters: { source: { kind: 'archive', digest: 5 }, builder: 'cargo' } },
        runDetails: { builder: 'me', metadata: [] },
      },
    };
    expect(parseSlsaProvenance(Buffer.from(JSON.stringify(statement)))).toEqual({
      subjects: [{ name: null, digest: {} }],
      buildType: null,
      builderId: null,
      invocationId: null,
      source: null,
      builder: null,
    });
  });
});
