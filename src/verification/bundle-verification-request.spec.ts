import { ProblemError } from '../common/problem';
import { readArtifactInput, readTrustRootChoice } from './bundle-verification-request';

const problemOf = (read: () => unknown) => {
  try {
    read();
  } catch (error) {
    if (error instanceof ProblemError) return { status: error.status, code: error.code };
    throw error;
  }
  throw new Error('expected a problem');
};

describe('readArtifactInput', () => {
  it('decodes the artifact', () => {
    expect(readArtifactInput({ artifact: Buffer.from('hello').toString('base64') })).toEqual({ kind: 'bytes', bytes: Buffer.from('hello') });
  });

  it('reads a digest', () => {
    expect(readArtifactInput({ artifactDigest: `sha256:${'ab'.repeat(32)}` })).toEqual({ kind: 'digest', algorithm: 'sha256', digest: Buffer.from('ab'.repeat(32), 'hex') });
  });

  it.each([
    ['neither', {}, 400, 'ARTIFACT_REQUIRED'],
    ['both', { artifact: 'aGVsbG8=', artifactDigest: `sha256:${'ab'.repeat(32)}` }, 400, 'ARTIFACT_AMBIGUOUS'],
    ['a digest of another kind', { artifactDigest: `sha512:${'ab'.repeat(64)}` }, 400, 'VALIDATION_FAILED'],
  ])('refuses %s', (_what, request, status, code) => {
    expect(problemOf(() => readArtifactInput(request))).toEqual({ status, code });
  });
});

describe('readTrustRootChoice', () => {
  it('uses the default root when none is named', () => {
    expect(readTrustRootChoice({})).toEqual({ kind: 'named', name: 'default' });
  });

  it('takes a name or an inline root', () => {
    expect(readTrustRootChoice({ trustRoot: 'staging' })).toEqual({ kind: 'named', name: 'staging' });
    expect(readTrustRootChoice({ trustedRoot: { mediaType: 'x' } })).toEqual({ kind: 'inline', document: { mediaType: 'x' } });
  });

  it('refuses both', () => {
    expect(problemOf(() => readTrustRootChoice({ trustRoot: 'staging', trustedRoot: {} }))).toEqual({ status: 400, code: 'TRUST_ROOT_AMBIGUOUS' });
  });
});
