import { ProblemError } from '../common/problem';
import { parseArtifactTargetFields } from './artifact-target-fields';

type FieldError = { field: string; message: string };

/** The 400 VALIDATION_FAILED problem thrown for these fields, and its `errors` list. */
function validationErrors(raw: Record<string, unknown>): FieldError[] {
  let thrown: unknown;
  try {
    parseArtifactTargetFields(raw);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProblemError);
  const problem = thrown as ProblemError;
  expect(problem.status).toBe(400);
  expect(problem.code).toBe('VALIDATION_FAILED');
  const errors = problem.extensions.errors as FieldError[];
  expect(Array.isArray(errors)).toBe(true);
  // The detail lists the same errors, for people reading the problem document.
  expect(problem.detail).toBe(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
  return errors;
}

const fieldsOf = (errors: FieldError[]) => errors.map((e) => e.field);

describe('parseArtifactTargetFields', () => {
  it('returns the fields of a valid upload', () => {
    expect(
      parseArtifactTargetFields({
        repository: 'registry.example:5000/team/hello-http',
        tag: 'v1.2.3',
        callbackUrl: 'https://ci.example/hooks/publish?id=7',
        'annotation.org.opencontainers.image.source': 'https://github.com/acme/hello',
      }),
    ).toEqual({
      repository: 'registry.example:5000/team/hello-http',
      tag: 'v1.2.3',
      callbackUrl: 'https://ci.example/hooks/publish?id=7',
      annotations: { 'org.opencontainers.image.source': 'https://github.com/acme/hello' },
    });
  });

  it('needs only the repository; empty optional fields count as absent', () => {
    expect(parseArtifactTargetFields({ repository: 'localhost:5000/comp' })).toEqual({
      repository: 'localhost:5000/comp',
      tag: undefined,
      callbackUrl: undefined,
      annotations: {},
    });
    expect(parseArtifactTargetFields({ repository: 'localhost:5000/comp', tag: '', callbackUrl: '', annotations: '' })).toEqual({
      repository: 'localhost:5000/comp',
      tag: undefined,
      callbackUrl: undefined,
      annotations: {},
    });
  });

  it('requires the repository', () => {
    expect(validationErrors({})).toEqual([{ field: 'repository', message: 'is required: host[:port]/path of the OCI repository' }]);
    expect(fieldsOf(validationErrors({ repository: '' }))).toEqual(['repository']);
    expect(fieldsOf(validationErrors({ tag: 'v1' }))).toEqual(['repository']);
  });

  describe('tag', () => {
    it.each(['v1', '1.0.0', 'latest', '_internal', 'A-b_c.d', 'x'.repeat(128)])('accepts %s', (tag) => {
      expect(parseArtifactTargetFields({ repository: 'r.example/c', tag }).tag).toBe(tag);
    });

    it.each(['-v1', '.hidden', 'v1:2', 'v1/2', 'with space', 'x'.repeat(129), 'ümlaut', 'sha256:abc'])('refuses %s', (tag) => {
      expect(validationErrors({ repository: 'r.example/c', tag })).toEqual([
        { field: 'tag', message: 'must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: at most 128 characters of letters, digits, _ . -, not starting with . or -' },
      ]);
    });
  });

  describe('callbackUrl', () => {
    it.each(['http://hooks.internal/x', 'https://ci.example/hooks'])('accepts %s', (callbackUrl) => {
      expect(parseArtifactTargetFields({ repository: 'r.example/c', callbackUrl }).callbackUrl).toBe(callbackUrl);
    });

    it.each(['ftp://files.example/x', 'file:///etc/passwd', 'javascript:alert(1)', 'hooks.example/x', '//hooks.example/x', 'HTTPS//x'])('refuses %s', (callbackUrl) => {
      expect(validationErrors({ repository: 'r.example/c', callbackUrl })).toEqual([{ field: 'callbackUrl', message: 'must be an http(s) URL' }]);
    });
  });

  describe('annotations', () => {
    it('reads annotation.<key> entries', () => {
      expect(
        parseArtifactTargetFields({
          repository: 'r.example/c',
          'annotation.org.opencontainers.image.version': '1.2.3',
          'annotation.com.example/team': 'platform',
          'annotation.build-id': '',
        }).annotations,
      ).toEqual({ 'org.opencontainers.image.version': '1.2.3', 'com.example/team': 'platform', 'build-id': '' });
    });

    it('reads the JSON annotations field', () => {
      expect(parseArtifactTargetFields({ repository: 'r.example/c', annotations: '{"org.opencontainers.image.description":"Hello \\"HTTP\\"","a":"1"}' }).annotations).toEqual({
        'org.opencontainers.image.description': 'Hello "HTTP"',
        a: '1',
      });
    });

    it('merges both forms, an annotation.<key> entry winning over the same key in the JSON field', () => {
      expect(
        parseArtifactTargetFields({
          repository: 'r.example/c',
          annotations: JSON.stringify({ 'org.example.from-json': 'j', 'org.example.both': 'from json' }),
          'annotation.org.example.from-entry': 'e',
          'annotation.org.example.both': 'from entry',
        }).annotations,
      ).toEqual({ 'org.example.from-json': 'j', 'org.example.from-entry': 'e', 'org.example.both': 'from entry' });
    });

    it.each([
      ['not JSON', '{org: 1}'],
      ['an array', '["a","b"]'],
      ['a string', '"a=b"'],
      ['null', 'null'],
      ['a number value', '{"a":1}'],
      ['a nested object', '{"a":{"b":"c"}}'],
      ['a null value', '{"a":null}'],
    ])('refuses a JSON annotations field that is %s', (_what, annotations) => {
      expect(validationErrors({ repository: 'r.example/c', annotations })).toEqual([{ field: 'annotations', message: 'must be a JSON object of string values' }]);
    });

    it('refuses the reserved created annotation, in either form', () => {
      expect(validationErrors({ repository: 'r.example/c', 'annotation.org.opencontainers.image.created': '2020-01-01T00:00:00Z' })).toEqual([
        { field: 'annotation.org.opencontainers.image.created', message: 'is set by the service' },
      ]);
      expect(validationErrors({ repository: 'r.example/c', annotations: '{"org.opencontainers.image.created":"2020-01-01T00:00:00Z"}' })).toEqual([
        { field: 'annotation.org.opencontainers.image.created', message: 'is set by the service' },
      ]);
    });

    it('refuses keys that are not valid annotation keys', () => {
      for (const key of ['', '-leading-dash', 'with space', 'semi;colon', 'ü', 'k'.repeat(256)]) {
        expect(validationErrors({ repository: 'r.example/c', annotations: JSON.stringify({ [key]: 'v' }) })).toEqual([
          { field: `annotation.${key.length > 64 ? `${key.slice(0, 64)}…` : key}`, message: 'is not a valid annotation key (at most 255 letters, digits, . _ / -)' },
        ]);
      }
      expect(fieldsOf(validationErrors({ repository: 'r.example/c', 'annotation.bad key': 'v' }))).toEqual(['annotation.bad key']);
      expect(parseArtifactTargetFields({ repository: 'r.example/c', ['annotation.' + 'k'.repeat(255)]: 'v' }).annotations).toHaveProperty(['k'.repeat(255)], 'v');
    });

    it('allows at most 64 annotations, counted after merging', () => {
      const entries = (from: number, count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`annotation.key${from + i}`, 'v']));
      expect(Object.keys(parseArtifactTargetFields({ repository: 'r.example/c', ...entries(0, 64) }).annotations)).toHaveLength(64);
      expect(validationErrors({ repository: 'r.example/c', ...entries(0, 65) })).toEqual([{ field: 'annotations', message: 'at most 64 annotations, 65 given' }]);
      const json = JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`json${i}`, 'v'])));
      expect(validationErrors({ repository: 'r.example/c', annotations: json, ...entries(0, 25) })).toEqual([
        { field: 'annotations', message: 'at most 64 annotations, 65 given' },
      ]);
    });
  });

  it('refuses unknown fields', () => {
    expect(validationErrors({ repository: 'r.example/c', reference: 'r.example/c:v1', file: 'x' })).toEqual([
      { field: 'reference', message: 'is not a known field' },
      { field: 'file', message: 'is not a known field' },
    ]);
    // Field names are case-sensitive; an annotation needs the exact prefix.
    expect(fieldsOf(validationErrors({ repository: 'r.example/c', Tag: 'v1', 'annotations.x': 'y' }))).toEqual(['Tag', 'annotations.x']);
  });

  it('refuses repeated fields (arrays) with one error each', () => {
    expect(validationErrors({ repository: ['r.example/a', 'r.example/b'] })).toEqual([{ field: 'repository', message: 'must be given once, as a string' }]);
    expect(validationErrors({ repository: 'r.example/c', tag: ['v1', 'v2'] })).toEqual([{ field: 'tag', message: 'must be given once, as a string' }]);
    expect(validationErrors({ repository: 'r.example/c', callbackUrl: ['https://a.example', 'https://b.example'] })).toEqual([
      { field: 'callbackUrl', message: 'must be given once, as a string' },
    ]);
    expect(validationErrors({ repository: 'r.example/c', annotations: ['{}', '{}'] })).toEqual([{ field: 'annotations', message: 'must be given once, as a string' }]);
    expect(validationErrors({ repository: 'r.example/c', 'annotation.build': ['1', '2'] })).toEqual([{ field: 'annotation.build', message: 'must be given once, as a string' }]);
  });

  it('reports every error at once', () => {
    const errors = validationErrors({
      tag: '-bad',
      callbackUrl: 'ftp://x',
      annotations: '[]',
      'annotation.org.opencontainers.image.created': 'now',
      'annotation.build': ['1', '2'],
      surprise: 'yes',
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'repository', message: 'is required: host[:port]/path of the OCI repository' },
        { field: 'tag', message: 'must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: at most 128 characters of letters, digits, _ . -, not starting with . or -' },
        { field: 'callbackUrl', message: 'must be an http(s) URL' },
        { field: 'annotations', message: 'must be a JSON object of string values' },
        { field: 'annotation.org.opencontainers.image.created', message: 'is set by the service' },
        { field: 'annotation.build', message: 'must be given once, as a string' },
        { field: 'surprise', message: 'is not a known field' },
      ]),
    );
    expect(errors).toHaveLength(7);
  });

  it('turns into a problem document carrying the errors', () => {
    let problem: ProblemError | undefined;
    try {
      parseArtifactTargetFields({ tag: '-bad' });
    } catch (error) {
      problem = error as ProblemError;
    }
    expect(problem!.toDocument('/v1/artifacts')).toMatchObject({
      type: 'https://wasm-signer.dev/problems/validation-failed',
      status: 400,
      code: 'VALIDATION_FAILED',
      instance: '/v1/artifacts',
      errors: [
        { field: 'repository', message: 'is required: host[:port]/path of the OCI repository' },
        { field: 'tag', message: 'must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: at most 128 characters of letters, digits, _ . -, not starting with . or -' },
      ],
    });
  });

  it.each([`sha256-${'a'.repeat(64)}.sig`, `sha256-${'a'.repeat(64)}`, `sha256-${'a'.repeat(64)}.att`, `sha512-${'c'.repeat(64)}.sbom`])(
    'refuses the reserved tag %s with 422 RESERVED_TAG',
    (tag) => {
      let problem: ProblemError | undefined;
      try {
        parseArtifactTargetFields({ repository: 'registry.example.com/team/app', tag });
      } catch (error) {
        problem = error as ProblemError;
      }
      expect(problem).toBeInstanceOf(ProblemError);
      expect(problem!.status).toBe(422);
      expect(problem!.code).toBe('RESERVED_TAG');
      expect(problem!.detail).toContain('only the signing path writes them');
    },
  );

  it('reports format errors (400) before the reserved-tag rule', () => {
    expect(() => parseArtifactTargetFields({ tag: `sha256-${'a'.repeat(64)}` })).toThrow(expect.objectContaining({ status: 400, code: 'VALIDATION_FAILED' }));
  });

  describe('field lengths', () => {
    const problemOf = (raw: Record<string, unknown>) => {
      try {
        parseArtifactTargetFields({ repository: 'registry.example.com/team/app', ...raw });
      } catch (error) {
        return error as ProblemError;
      }
      throw new Error('expected a problem');
    };

    it.each([
      ['repository', { repository: `registry.example.com/${'a'.repeat(1100)}` }, 'repository', 'must be at most 1024 characters'],
      ['callbackUrl', { callbackUrl: `https://hooks.example.com/${'a'.repeat(2048)}` }, 'callbackUrl', 'must be at most 2048 characters'],
      ['annotations JSON', { annotations: JSON.stringify({ a: 'x'.repeat(70_000) }) }, 'annotations', 'must be at most 65536 characters'],
      ['an annotation value', { 'annotation.org.example.note': 'x'.repeat(4097) }, 'annotation.org.example.note', 'must be at most 4096 characters'],
      ['an annotation key', { [`annotation.${'k'.repeat(256)}`]: 'v' }, `annotation.${'k'.repeat(64)}…`, expect.stringContaining('is not a valid annotation key (at most 255')],
      ['an unknown field name', { ['x'.repeat(10_000)]: 'v' }, `${'x'.repeat(64)}…`, 'is not a known field'],
    ])('refuses an over-long %s with 400 VALIDATION_FAILED, quoting no more than a short name', (_what, raw, field, message) => {
      const problem = problemOf(raw);
      expect(problem).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect((problem.extensions as { errors: unknown[] }).errors).toEqual([{ field, message }]);
      expect(problem.detail!.length).toBeLessThan(300);
    });

    it('accepts values at the limits', () => {
      const fields = parseArtifactTargetFields({
        repository: `registry.example.com/${'a'.repeat(255)}`,
        tag: 'T'.repeat(128),
        callbackUrl: `https://hooks.example.com/${'a'.repeat(2048 - 26)}`,
        [`annotation.${'k'.repeat(255)}`]: 'v'.repeat(4096),
      });
      expect(fields.annotations[`${'k'.repeat(255)}`]).toHaveLength(4096);
    });
  });
});
