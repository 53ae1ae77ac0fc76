import 'reflect-metadata';
import { ProblemError } from '../common/problem';
import { readPolicy } from './artifact-verification.service';

const SIGNER = { certificateIdentity: 'https://example.com/ci', certificateOidcIssuer: 'https://issuer.example.com' };

const problemOf = (policy: Record<string, unknown>) => {
  try {
    readPolicy(policy);
  } catch (error) {
    if (error instanceof ProblemError) return { status: error.status, code: error.code, detail: error.detail };
    throw error;
  }
  throw new Error('expected a problem');
};

describe('readPolicy: bounded annotations', () => {
  const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`org.example.k${i}`, 'v']));

  it('takes up to 64 annotations, keys up to 255 and values up to 4096 characters', () => {
    expect(Object.keys(readPolicy({ ...SIGNER, annotations: many(64) }).annotations)).toHaveLength(64);
    expect(readPolicy({ ...SIGNER, annotations: { ['k'.repeat(255)]: 'v'.repeat(4096) } }).annotations['k'.repeat(255)]).toHaveLength(4096);
  });

  it.each([
    ['65 annotations', many(65)],
    ['a 256-character key', { ['k'.repeat(256)]: 'v' }],
    ['a 4097-character value', { team: 'v'.repeat(4097) }],
  ])('refuses %s with 400 INVALID_POLICY', (_what, annotations) => {
    expect(problemOf({ ...SIGNER, annotations })).toEqual({
      status: 400,
      code: 'INVALID_POLICY',
      detail: 'policy.annotations may hold at most 64 entries, keys of at most 255 characters and values of at most 4096',
    });
  });

  it('refuses an over-long signer field with 400 INVALID_POLICY', () => {
    expect(problemOf({ ...SIGNER, certificateIdentity: 'x'.repeat(4097) })).toMatchObject({
      status: 400,
      code: 'INVALID_POLICY',
      detail: 'policy.certificateIdentity must be at most 4096 characters',
    });
  });
});
