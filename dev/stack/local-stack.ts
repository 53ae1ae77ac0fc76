import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadOrCreateFulcioAuthority } from './fulcio-ca';
import { FulcioServer } from './fulcio-server';
import type { HttpService } from './http-service';
import { startLocalRegistry, type LocalRegistry } from './local-registry';
import { LocalOidcIssuer, SIGSTORE_AUDIENCE } from './oidc-issuer';
import { OidcTokenVerifier } from './oidc-token-verifier';
import { RekorServer } from './rekor-server';
import { stackFiles, stackUrls, type StackConfig, type StackFiles, type StackUrls } from './stack-config';
import { buildStackEnv, writeTrustFiles } from './trust-files';
import { LocalTimestampAuthority } from './tsa-server';

export type StackLog = (message: string, fields?: Record<string, unknown>) => void;

export interface RunningStack {
  readonly urls: StackUrls;
  readonly files: StackFiles;
  /** The contents of stack.env. */
  readonly env: Readonly<Record<string, string>>;
  readonly registry: LocalRegistry | undefined;
  /** Stops the token refresh, the servers and the registry child. */
  close(): Promise<void>;
}

/**
 * Starts the OIDC issuer, Fulcio, Rekor, the TSA and (when available) the OCI registry, then writes the
 * token file, trusted_root.json, signing_config.json and stack.env. The health endpoints answer 200
 * only after all of that, so a caller that sees them healthy can read the files.
 */
export async function startLocalStack(config: StackConfig, log: StackLog): Promise<RunningStack> {
  const urls = stackUrls(config);
  const files = stackFiles(config);
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });

  let ready = false;
  const isReady = () => ready;
  const onError = (service: string) => (error: unknown) => log(`${service}: request failed`, { error: error instanceof Error ? error.stack : String(error) });

  const oidc = await LocalOidcIssuer.create({
    issuerUrl: urls.oidcIssuer,
    keyFile: LocalOidcIssuer.keyFile(config.stateDir),
    namespace: config.kubernetes.namespace,
    serviceAccount: config.kubernetes.serviceAccount,
    tokenTtlSeconds: config.tokenTtlSeconds,
    tokenFile: files.tokenFile,
    log,
  });
  const authority = await loadOrCreateFulcioAuthority(config.stateDir);
  const fulcio = new FulcioServer(authority, new OidcTokenVerifier({ issuer: urls.oidcIssuer, audience: SIGSTORE_AUDIENCE }));
  const rekor = await RekorServer.open({ dir: join(config.stateDir, 'rekor'), baseUrl: urls.rekor });
  const tsa = await LocalTimestampAuthority.open(join(config.stateDir, 'tsa'));

  const services: Array<[HttpService, number, string]> = [
    [oidc.createHttpService(isReady), config.ports.oidc, urls.oidcIssuer],
    [fulcio.createHttpService(isReady, onError('fulcio')), config.ports.fulcio, urls.fulcio],
    [rekor.createHttpService(isReady, onError('rekor')), config.ports.rekor, urls.rekor],
    [tsa.createHttpService(isReady, onError('tsa')), config.ports.tsa, urls.tsa],
  ];
  let registry: LocalRegistry | undefined;

  const close = async () => {
    ready = false;
    oidc.stopTokenRefresh();
    await Promise.all(services.map(([service]) => service.close()));
    await registry?.stop();
    await rekor.close();
  };

  try {
    for (const [service, port, url] of services) {
      await service.listen(config.listenHost, port);
      log(`${service.name}: listening`, { service: service.name, url });
    }
    const token = await oidc.startTokenRefresh();
    log('oidc: token file written', { file: files.tokenFile, expiresAt: token.expiresAt.toISOString(), refreshEverySeconds: oidc.refreshDelayMs() / 1000 });

    const env = buildStackEnv({ urls, files, certificateIdentity: oidc.certificateIdentity });
    await writeTrustFiles(
      files,
      {
        urls,
        fulcioRoot: authority.rootCertificate,
        ctLog: authority.ctLog,
        rekor: { publicKeyDer: rekor.publicKeyDer, createdAt: rekor.keyCreatedAt },
        tsaChain: tsa.chain,
        oidcKeyCreatedAt: oidc.keyCreatedAt,
      },
      env,
    );
    log('trust files written', { trustedRoot: files.trustedRoot, signingConfig: files.signingConfig, stackEnv: files.stackEnv });

    if (config.registry.enabled) {
      try {
        registry = await startLocalRegistry({
          dir: join(config.stateDir, 'registry'),
          host: config.host,
          port: config.ports.registry,
          binary: config.registry.binary,
          log,
        });
      } catch (error) {
        log('registry: failed to start; continuing without it', { error: error instanceof Error ? error.message : String(error) });
      }
    } else {
      log('registry: disabled (STACK_REGISTRY=off)');
    }

    ready = true;
    return { urls, files, env, registry, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
