import { RegistryClient, type RegistryClientOptions } from '../../src/index';

/** The service's own OCI client, configured as the service configures it for the private registry. */
export function benchRegistryClient(stackEnv: Record<string, string>, fetch?: RegistryClientOptions['fetch']): RegistryClient {
  return new RegistryClient({
    insecureHosts: (stackEnv.REGISTRY_INSECURE_HOSTS ?? '').split(',').filter((host) => host !== ''),
    userAgent: 'wasm-signer-bench',
    requestTimeoutMs: 30_000,
    fetch,
  });
}
