import 'reflect-metadata';
import { ConfigError } from '../config/config-error';
import { AdmissionPolicy } from './admission-policy';

const SIGNER = { certificateIdentity: 'https://example.com/ci', certificateOidcIssuer: 'https://issuer.example.com' };
const ROOTS = ['default', 'public-good'];

const problemsOf = (text: string) => {
  try {
    AdmissionPolicy.parse(text, ROOTS);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => `${problem.variable}: ${problem.message}`);
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('AdmissionPolicy', () => {
  it('reads an image as the runtime does, with the rule that judges it, the same reading for the same text', () => {
    const policy = AdmissionPolicy.parse(JSON.stringify({ images: [{ pattern: 'docker.io/library/*', policy: SIGNER }] }), ROOTS);
    const nginx = policy.read('nginx');
    expect(nginx).toMatchObject({ reference: { tag: 'latest' }, name: 'docker.io/library/nginx', rule: { pattern: 'docker.io/library/*' } });
    expect(policy.read('nginx')).toBe(nginx);
    expect(policy.read('R.example:443/team/app@sha256:' + 'c'.repeat(64))).toMatchObject({
      name: 'r.example/team/app',
      rule: undefined,
      reference: { digest: 'sha256:' + 'c'.repeat(64) },
    });
    expect(() => policy.read('r.example/UPPER:v1')).toThrow();
  });

  it('judges a repository by the first rule whose pattern matches its canonical name', () => {
    const policy = AdmissionPolicy.parse(
      JSON.stringify({
        images: [
          { pattern: 'R.example:443/team/special', policy: SIGNER, trustRoot: 'public-good' },
          { pattern: 'r.example/team/**', policy: { ...SIGNER, annotations: { env: 'prod' } } },
        ],
      }),
      ROOTS,
    );
    expect(policy.ruleFor('r.example/team/special')).toMatchObject({ pattern: 'r.example/team/special', trustRoot: 'public-good' });
    expect(policy.ruleFor('r.example/team/a/b')).toMatchObject({ pattern: 'r.example/team/**', trustRoot: 'default', policy: { annotations: { env: 'prod' } } });
    expect(policy.ruleFor('r.example/other/a')).toBeUndefined();
  });

  it('refuses a file that is not valid, naming each bad rule', () => {
    expect(problemsOf('{')[0]).toMatch(/^ADMISSION_POLICY_FILE: is not JSON/);
    expect(problemsOf('{"rules":[]}')).toEqual(['ADMISSION_POLICY_FILE: must be a JSON object with an "images" array of {pattern, policy, trustRoot?}']);
    expect(
      problemsOf(
        JSON.stringify({
          images: [
            { pattern: 'no-host', policy: SIGNER },
            { pattern: 'r.example/a', policy: { certificateIdentity: 'x' } },
            { pattern: 'r.example/b', policy: SIGNER, trustRoot: 'nope' },
            { pattern: 'r.example/c', policy: SIGNER, extra: 1 },
          ],
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^ADMISSION_POLICY_FILE: images\[0\]\.pattern: "no-host" must be host\[:port\]\/path/),
      expect.stringMatching(/^ADMISSION_POLICY_FILE: images\[1\]\.policy: INVALID_POLICY: policy\.certificateOidcIssuer/),
      'ADMISSION_POLICY_FILE: images[2].trustRoot must name a configured trust root (default, public-good), not "nope"',
      'ADMISSION_POLICY_FILE: images[3]: unknown field(s) extra; known: pattern, policy, trustRoot',
    ]);
  });
});
