import { Module } from '@nestjs/common';
import { APP_CONFIG } from '../config/config.module';
import { NamedLocks } from '../database/named-lock';
import type { AppConfig } from '../config/config.schema';
import { RegistryClient } from '../registry/registry-client';
import { RekorClient } from '../sigstore/rekor-client';
import { OwnSignatureVerifier } from '../sigstore/own-signature-verifier';
import { ArtifactSigner } from './artifact-signer';
import { GcpMetadataSource, GitHubActionsSource, type IdentityTokenSource, StaticTokenSource, TokenFileSource } from './identity/identity-providers';
import { SignRequestService } from './sign-request.service';
import { SignSteps } from './sign-steps';
import { AttestStep } from './attest-step';
import { VerdictInvalidations } from '../pipeline/verdict-invalidations';
import { AttestationRecords } from './attestation-records.repository';
import { SignaturesController } from './signatures.controller';
import { SignatureRecords } from './signature-records.repository';
import { type SigningEndpoints, resolveSigningEndpoints } from '../sigstore/signing-endpoints';
import { SigstoreRetryAfter } from './sigstore-retry-after';
import { SigstoreSigner } from './sigstore-signer';

export function identityTokenSource(identity: AppConfig['identity']): IdentityTokenSource {
  switch (identity.provider) {
    case 'token-file':
      return new TokenFileSource(identity.tokenFile);
    case 'github-actions':
      return new GitHubActionsSource(identity.requestUrl, identity.requestToken);
    case 'gcp-metadata':
      return new GcpMetadataSource(identity.metadataUrl);
    case 'static':
      return new StaticTokenSource(identity.token);
  }
}

const SIGNING_ENDPOINTS = Symbol('SIGNING_ENDPOINTS');

/** Keyless signing in the worker: identity, Fulcio/Rekor/TSA, both signature formats, the records. */
@Module({
  providers: [
    { provide: SIGNING_ENDPOINTS, inject: [APP_CONFIG], useFactory: (config: AppConfig) => resolveSigningEndpoints(config.signing) },
    { provide: SigstoreRetryAfter, inject: [SIGNING_ENDPOINTS], useFactory: (endpoints: SigningEndpoints) => new SigstoreRetryAfter(endpoints) },
    {
      provide: SigstoreSigner,
      inject: [APP_CONFIG, SIGNING_ENDPOINTS, SigstoreRetryAfter],
      useFactory: (config: AppConfig, endpoints: SigningEndpoints, retryAfter: SigstoreRetryAfter) =>
        new SigstoreSigner(endpoints, identityTokenSource(config.identity), config.signing.timeoutMs, config.signing.certificateScope, retryAfter),
    },
    SignatureRecords,
    {
      provide: ArtifactSigner,
      inject: [APP_CONFIG, SigstoreSigner, SignatureRecords, RegistryClient, OwnSignatureVerifier, RekorClient, NamedLocks, VerdictInvalidations],
      useFactory: (
        config: AppConfig,
        signer: SigstoreSigner,
        records: SignatureRecords,
        registry: RegistryClient,
        verifier: OwnSignatureVerifier,
        rekor: RekorClient,
        locks: NamedLocks,
        invalidations: VerdictInvalidations,
      ) => new ArtifactSigner(config.signing.formats, signer, records, registry, verifier, rekor, locks, invalidations),
    },
    SignSteps,
    AttestationRecords,
    AttestStep,
  ],
})
export class SigningWorkerModule {}

/** Sign requests for artifacts already in a registry (api role). */
@Module({ controllers: [SignaturesController], providers: [SignRequestService] })
export class SigningApiModule {}
