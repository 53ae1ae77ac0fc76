import { CodedError } from '../common/coded-error';
import { ProblemError } from '../common/problem';
import { buildProblem } from './build-problems';

describe('buildProblem', () => {
  const problemFor = (code: string) => buildProblem(new CodedError(code, `entry "x": ${code}`)) as ProblemError;

  it.each([
    ['ARCHIVE_PATH_TRAVERSAL', 422],
    ['ARCHIVE_LINK_ESCAPES', 422],
    ['ARCHIVE_SPECIAL_FILE', 422],
    ['ARCHIVE_NAME_INVALID', 422],
    ['ARCHIVE_TOO_LARGE', 413],
    ['ARCHIVE_TOO_MANY_FILES', 413],
    ['ARCHIVE_COMPRESSION_RATIO', 413],
    ['INVALID_BUILDER_OPTIONS', 400],
    ['GIT_COMMIT_NOT_FULL', 400],
    ['GIT_URL_INVALID', 400],
    ['GIT_SOURCES_DISABLED', 403],
    ['GIT_HOST_NOT_ALLOWED', 403],
  ])('answers %s with %i, keeping the code and the message that names the entry', (code, status) => {
    const problem = problemFor(code);
    expect(problem).toBeInstanceOf(ProblemError);
    expect({ status: problem.status, code: problem.code, detail: problem.detail }).toEqual({ status, code, detail: `entry "x": ${code}` });
  });

  it('leaves other errors to the caller (a dependency failure is not the request’s fault)', () => {
    const other = new CodedError('GIT_FETCH_FAILED', 'unreachable', { transient: true });
    expect(buildProblem(other)).toBe(other);
    const plain = new Error('boom');
    expect(buildProblem(plain)).toBe(plain);
  });
});
