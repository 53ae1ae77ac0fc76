import { CliError, ExitCode, UnreachableError } from './exit-codes';

/** The audience the service accepts CI tokens for unless configured otherwise (its OIDC_AUDIENCE). */
export const DEFAULT_AUDIENCE = 'wasm-signer';

/**
 * The bearer credential for the service, from the environment: `WASM_SIGNER_TOKEN` (an API key or an
 * OIDC token) when set; else, in GitHub Actions with `permissions: id-token: write`, the job's OIDC token
 * requested for the service's audience (trusted publishers, README "CI and workload tokens"); else none
 * (the service then answers 401 CREDENTIAL_MISSING).
 */
export async function credentialFromEnvironment(env: NodeJS.ProcessEnv, audience: string, timeoutMs: number): Promise<string | undefined> {
  const token = env.WASM_SIGNER_TOKEN?.trim();
  if (token) return token;
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (requestUrl && requestToken) return githubActionsIdToken(requestUrl, requestToken, audience, timeoutMs);
  return undefined;
}

/** The GitHub Actions job's OIDC token for `audience` (the request URL already carries a query: `&audience=` is appended). */
export async function githubActionsIdToken(requestUrl: string, requestToken: string, audience: string, timeoutMs: number): Promise<string> {
  const url = `${requestUrl}${requestUrl.includes('?') ? '&' : '?'}audience=${encodeURIComponent(audience)}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new UnreachableError(`cannot get the GitHub Actions OIDC token: ${error instanceof Error ? (error.cause ?? error.message) : String(error)}`);
  }
  const body = (await response.json().catch(() => undefined)) as { value?: unknown } | undefined;
  if (!response.ok || typeof body?.value !== 'string') {
    throw new CliError(`GitHub Actions did not give an OIDC token (HTTP ${response.status}); does the job have "permissions: id-token: write"?`, ExitCode.Failed);
  }
  return body.value;
}
