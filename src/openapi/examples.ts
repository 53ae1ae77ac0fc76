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
  /** The identity the local stack's workload token gets from Fulcio, and its OIDC issuer. */
  certificateIdentity: 'https://kubernetes.io/namespaces/wasm-signer/serviceaccounts/signer',
  certificateIdentityRegExp: 'https://kubernetes\\.io/namespaces/wasm-signer/serviceaccounts/.+',
  certificateOidcIssuer: 'http://127.0.0.1:5550',
  /** The webhook inbox of `npm run dev` (WEBHOOK_ALLOWLIST admits loopback there). */
  callbackUrl: 'http://127.0.0.1:5580/hooks/ci',
  webhookUrl: 'http://127.0.0.1:5580/hooks/subscription',
} as const;
