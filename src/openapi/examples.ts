import publicGoodBundle from './examples/public-good-bundle.sigstore.json';
import publicGoodTrustedRoot from './examples/public-good-trusted-root.json';

/**
 * The values the API description's examples use: those of `npm run dev` (its registry, the local stack's
 * signing identity and OIDC issuer, its webhook inbox), so that "Try it out" in Swagger UI works as
 * printed against a development service. One place, so that the examples agree with each other and with
 * the README.
 */
export const EXAMPLES = {
  /** The registry `npm run dev` starts. */
  registry: '127.0.0.1:5000',
  repository: '127.0.0.1:5000/demo/hello-http',
  tag: 'v1.0.0',
  reference: '127.0.0.1:5000/demo/hello-http:v1.0.0',
  /** sha256 of the README's example component (src/artifacts/__fixtures__/hello-http.wasm). */
  wasmDigest: 'sha256:939fb3d3e40f17d1937b87ae0b3230983c31c86d32d08604f9f97b158dd1788b',
  /** The identity the local stack's workload token gets from Fulcio, and its OIDC issuer. */
  certificateIdentity: 'https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer',
  certificateIdentityRegExp: 'https://kubernetes\\.io/namespaces/wasm-signer/serviceaccounts/.+',
  certificateOidcIssuer: 'http://127.0.0.1:5550',
  /** The webhook inbox of `npm run dev` (WEBHOOK_ALLOWLIST admits loopback there). */
  callbackUrl: 'http://127.0.0.1:5580/hooks/ci',
  webhookUrl: 'http://127.0.0.1:5580/hooks/subscription',
} as const;

/**
 * A bundle that verifies without the network: a public-good Sigstore bundle (hashedrekord, from the
 * sigstore-conformance case `happy-path-v0.3`) over the bytes of its `a.txt`, with the public-good trusted
 * root given inline, so that Swagger UI's "Try it out" answers `verified: true` offline too.
 */
export const BUNDLE_EXAMPLE = {
  bundle: publicGoodBundle as Record<string, unknown>,
  artifactDigest: 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf',
  certificateIdentity: 'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
  certificateOidcIssuer: 'https://token.actions.githubusercontent.com',
  trustedRoot: publicGoodTrustedRoot as Record<string, unknown>,
};
