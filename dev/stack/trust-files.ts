import { ASN1Obj, X509Certificate } from '@sigstore/core';
import {
  HashAlgorithm,
  PublicKeyDetails,
  ServiceSelector,
  SigningConfig,
  TrustedRoot,
  type CertificateAuthority,
  type DistinguishedName,
  type TransparencyLogInstance,
} from '@sigstore/protobuf-specs';
import { writeFileAtomic } from '../../src/common/atomic-file';
import { keyId, type Bytes } from './key-material';
import type { StackFiles, StackUrls } from './stack-config';
import { formatStackEnv } from './stack-env';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
const OPERATOR = 'wasm-signer local stack';
const OID_COMMON_NAME = '2.5.4.3';
const OID_ORGANIZATION = '2.5.4.10';

/** The public trust material of the stack; everything here is derived from persisted keys and certificates. */
export interface StackTrust {
  readonly urls: StackUrls;
  readonly fulcioRoot: Bytes;
  readonly ctLog: { readonly publicKeyDer: Bytes; readonly createdAt: Date };
  readonly rekor: { readonly publicKeyDer: Bytes; readonly createdAt: Date };
  /** [TSA signing certificate, TSA root]. */
  readonly tsaChain: readonly Bytes[];
  readonly oidcKeyCreatedAt: Date;
}

/** The Sigstore trusted root for the stack (deterministic for the same persisted material). */
export function buildTrustedRoot(trust: StackTrust): TrustedRoot {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [transparencyLog(trust.urls.rekor, trust.rekor.publicKeyDer, trust.rekor.createdAt)],
    certificateAuthorities: [certificateAuthority(trust.urls.fulcio, [trust.fulcioRoot])],
    ctlogs: [transparencyLog(trust.urls.fulcio, trust.ctLog.publicKeyDer, trust.ctLog.createdAt)],
    timestampAuthorities: [certificateAuthority(trust.urls.tsaTimestamp, trust.tsaChain)],
  };
}

/** Signing config v0.2 naming the stack's services. */
export function buildSigningConfig(trust: StackTrust): SigningConfig {
  const service = (url: string, start: Date) => ({ url, majorApiVersion: 1, validFor: { start, end: undefined }, operator: OPERATOR });
  return {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: [service(trust.urls.fulcio, X509Certificate.parse(trust.fulcioRoot).notBefore)],
    oidcUrls: [service(trust.urls.oidcIssuer, trust.oidcKeyCreatedAt)],
    rekorTlogUrls: [service(trust.urls.rekor, trust.rekor.createdAt)],
    rekorTlogConfig: { selector: ServiceSelector.ANY, count: 0 },
    tsaUrls: [service(trust.urls.tsaTimestamp, X509Certificate.parse(trust.tsaChain[0]!).notBefore)],
    tsaConfig: { selector: ServiceSelector.ANY, count: 0 },
  };
}

export interface StackEnvInputs {
  readonly urls: StackUrls;
  readonly files: StackFiles;
  /** The SAN the local Fulcio certifies for the default service account. */
  readonly certificateIdentity: string;
}

/** What the service needs to use the stack (written to stack.env). */
export function buildStackEnv({ urls, files, certificateIdentity }: StackEnvInputs): Record<string, string> {
  return {
    SIGSTORE_FULCIO_URL: urls.fulcio,
    SIGSTORE_REKOR_URL: urls.rekor,
    SIGSTORE_TSA_URL: urls.tsaTimestamp,
    SIGSTORE_TRUSTED_ROOT_FILE: files.trustedRoot,
    SIGSTORE_SIGNING_CONFIG_FILE: files.signingConfig,
    IDENTITY_PROVIDER: 'token-file',
    IDENTITY_TOKEN_FILE: files.tokenFile,
    LOCAL_OIDC_ISSUER_URL: urls.oidcIssuer,
    LOCAL_CERTIFICATE_IDENTITY: certificateIdentity,
    REGISTRY_INSECURE_HOSTS: urls.registry,
    // The registry is on this machine, an address the service refuses unless it is allowlisted.
    REGISTRY_PRIVATE_ALLOWLIST: new URL(`http://${urls.registry}`).hostname,
    LOCAL_REGISTRY: urls.registry,
  };
}

/** Writes trusted_root.json, signing_config.json and stack.env, each atomically. */
export async function writeTrustFiles(files: StackFiles, trust: StackTrust, env: Record<string, string>): Promise<void> {
  await writeFileAtomic(files.trustedRoot, `${JSON.stringify(TrustedRoot.toJSON(buildTrustedRoot(trust)), null, 2)}\n`);
  await writeFileAtomic(files.signingConfig, `${JSON.stringify(SigningConfig.toJSON(buildSigningConfig(trust)), null, 2)}\n`);
  await writeFileAtomic(files.stackEnv, formatStackEnv(env, ['Local supply-chain stack (development and tests only); rewritten on every stack start.']));
}

function transparencyLog(baseUrl: string, publicKeyDer: Bytes, start: Date): TransparencyLogInstance {
  return {
    baseUrl,
    hashAlgorithm: HashAlgorithm.SHA2_256,
    publicKey: {
      rawBytes: publicKeyDer,
      keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
      validFor: { start, end: undefined },
    },
    logId: { keyId: keyId(publicKeyDer) },
    checkpointKeyId: undefined,
    operator: OPERATOR,
  };
}

/** A certificate authority entry; the chain is leaf-most first, its validity starts at the leaf-most certificate's. */
function certificateAuthority(uri: string, chain: readonly Bytes[]): CertificateAuthority {
  const first = X509Certificate.parse(chain[0]!);
  const root = X509Certificate.parse(chain[chain.length - 1]!);
  return {
    subject: distinguishedName(root.subject),
    uri,
    certChain: { certificates: chain.map((rawBytes) => ({ rawBytes })) },
    validFor: { start: first.notBefore, end: undefined },
    operator: OPERATOR,
  };
}

/** Organization and common name of a Name, given its content octets (what X509Certificate.subject returns). */
function distinguishedName(content: Buffer): DistinguishedName {
  const name = { organization: '', commonName: '' };
  for (const rdn of ASN1Obj.parseBuffer(derSequence(content)).subs) {
    for (const attribute of rdn.subs) {
      const [type, value] = attribute.subs;
      if (!type || !value) continue;
      const oid = type.toOID();
      if (oid === OID_ORGANIZATION) name.organization = value.value.toString('utf8');
      if (oid === OID_COMMON_NAME) name.commonName = value.value.toString('utf8');
    }
  }
  return name;
}

/** Wraps content octets in a DER SEQUENCE header. */
function derSequence(content: Buffer): Bytes {
  const length = content.length;
  let header: number[];
  if (length < 0x80) header = [0x30, length];
  else if (length <= 0xff) header = [0x30, 0x81, length];
  else header = [0x30, 0x82, length >> 8, length & 0xff];
  return Buffer.concat([Buffer.from(header), content]);
}
