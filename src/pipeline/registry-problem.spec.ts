import { ProblemError } from '../common/problem';
import { RegistryError, type RegistryErrorCode } from '../registry/registry-error';
import { registryProblem } from './registry-problem';

const failure = (code: RegistryErrorCode, transient: boolean, extra: { retryAfterMs?: number } = {}) =>
  new RegistryError(code, `registry r.example.com: ${code}`, { transient, registry: 'r.example.com', ...extra });

describe('registryProblem', () => {
  it.each<[RegistryErrorCode, boolean, number]>([
    ['REPOSITORY_NOT_FOUND', false, 404],
    ['MANIFEST_NOT_FOUND', false, 404],
    ['REGISTRY_UNAUTHORIZED', false, 422],
    ['REGISTRY_FORBIDDEN', false, 422],
    ['REGISTRY_REJECTED', false, 422],
    ['MANIFEST_TOO_LARGE', false, 422],
    ['REGISTRY_PORT_BLOCKED', false, 422],
    ['REGISTRY_TLS_ERROR', false, 502],
    ['REGISTRY_DNS_FAILURE', true, 502],
    ['REGISTRY_PROTOCOL_ERROR', false, 502],
    ['REGISTRY_PROTOCOL_ERROR', true, 502],
    ['DIGEST_MISMATCH', false, 502],
    ['REGISTRY_UNREACHABLE', true, 503],
    ['REGISTRY_UNAVAILABLE', true, 503],
    ['REGISTRY_THROTTLED', true, 503],
    ['REGISTRY_PRECONDITION_FAILED', true, 503],
    ['REGISTRY_TIMEOUT', true, 504],
  ])('%s (transient %s) is %d, keeping the code and naming the registry', (code, transient, status) => {
    const problem = registryProblem(failure(code, transient)) as ProblemError;
    expect(problem).toBeInstanceOf(ProblemError);
    expect(problem.status).toBe(status);
    expect(problem.code).toBe(code);
    expect(problem.detail).toBe(`registry r.example.com: ${code}`);
    expect(problem.extensions).toMatchObject({ registry: 'r.example.com' });
  });

  it("passes on the registry's Retry-After", () => {
    expect((registryProblem(failure('REGISTRY_THROTTLED', true, { retryAfterMs: 1500 })) as ProblemError).extensions).toMatchObject({ retryAfterSeconds: 2 });
  });

  it('leaves other errors alone', () => {
    const other = new Error('x');
    expect(registryProblem(other)).toBe(other);
  });
});
