import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from '@sigstore/core';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { bundleBuilderFromSigningConfig } from '@sigstore/sign';
import { toTrustMaterial } from '@sigstore/verify';
import { parseStackEnv } from './ensure-local-stack';
import { loadOrCreateFulcioAuthority } from './fulcio-ca';
import { loadOrCreateKeyPair } from './key-material';
import { stackConfigFromEnv, stackFiles, stackUrls } from './stack-config';
import { formatStackEnv } from './stack-env';
import { buildStackEnv, SIGNING_CONFIG_MEDIA_TYPE, TRUSTED_ROOT_MEDIA_TYPE, writeTrustFiles, type StackTrust } from './trust-files';
import { LocalTimestampAuthority } from './tsa-server';

describe('trust files', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trust-files-spec-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function loadTrust() {
    const config = stackConfigFromEnv({ STACK_DIR: dir }, dir);
    const authority = await loadOrCreateFulcioAuthority(config.stateDir);
    const rekorKey = await loadOrCreateKeyPair(join(config.stateDir, 'rekor', 'signing-key.json'));
    const tsa = await LocalTimestampAuthority.open(join(config.stateDir, 'tsa'));
    const oidcKey = await loadOrCreateKeyPair(join(config.stateDir, 'oidc', 'signing-key.json'));
    const trust: StackTrust = {
      urls: stackUrls(config),
      fulcioRoot: authority.rootCertificate,
      ctLog: authority.ctLog,
      rekor: { publicKeyDer: rekorKey.publicKeyDer, createdAt: rekorKey.createdAt },
      tsaChain: tsa.chain,
      oidcKeyCreatedAt: oidcKey.createdAt,
    };
    const files = stackFiles(config);
    const env = buildStackEnv({ urls: trust.urls, files, certificateIdentity: 'https://kubernetes.io/namespaces/ns/serviceaccounts/sa' });
    return { config, authority, rekorKey, tsa, trust, files, env };
  }

  it('writes a trusted root that names the stack keys and certificates and that @sigstore/verify accepts', async () => {
    const { authority, rekorKey, tsa, trust, files, env } = await loadTrust();
    await writeTrustFiles(files, trust, env);
    const json = JSON.parse(await readFile(files.trustedRoot, 'utf8'));
    expect(json.mediaType).toBe(TRUSTED_ROOT_MEDIA_TYPE);
    const root = TrustedRoot.fromJSON(json);

    expect(root.tlogs).toHaveLength(1);
    expect(root.tlogs[0]!.baseUrl).toBe('http://127.0.0.1:5556');
    expect(Buffer.from(root.tlogs[0]!.publicKey!.rawBytes!).equals(rekorKey.publicKeyDer)).toBe(true);
    expect(Buffer.from(root.tlogs[0]!.logId!.keyId).toString('hex')).toBe(createHash('sha256').update(rekorKey.publicKeyDer).digest('hex'));
    expect(root.tlogs[0]!.publicKey!.validFor!.start!.getTime()).toBe(rekorKey.createdAt.getTime());

    expect(root.certificateAuthorities[0]!.certChain!.certificates.map((c) => Buffer.from(c.rawBytes).toString('hex'))).toEqual([authority.rootCertificate.toString('hex')]);
    expect(root.certificateAuthorities[0]!.subject).toEqual({ organization: 'sigstore.mock', commonName: 'sigstore' });

    // The CT log entry must be the log that signs the SCTs embedded in issued certificates.
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const leaf = X509Certificate.parse(await authority.issueCertificate({ publicKey: publicKey.export({ format: 'der', type: 'spki' }), subjectAltName: 'https://x.test' }));
    const sctLogId = leaf.extSCT!.signedCertificateTimestamps[0]!.logID;
    expect(Buffer.from(root.ctlogs[0]!.logId!.keyId).equals(sctLogId)).toBe(true);

    expect(root.timestampAuthorities[0]!.uri).toBe('http://127.0.0.1:5557/api/v1/timestamp');
    expect(root.timestampAuthorities[0]!.certChain!.certificates.map((c) => Buffer.from(c.rawBytes).toString('hex'))).toEqual(tsa.chain.map((c) => c.toString('hex')));

    const material = toTrustMaterial(root);
    expect(material.tlogs).toHaveLength(1);
    expect(material.certificateAuthorities).toHaveLength(1);
    expect(material.ctlogs).toHaveLength(1);
    expect(material.timestampAuthorities).toHaveLength(1);
  });

  it('writes a signing config v0.2 that @sigstore/sign builds a bundle builder from', async () => {
    const { trust, files, env } = await loadTrust();
    await writeTrustFiles(files, trust, env);
    const json = JSON.parse(await readFile(files.signingConfig, 'utf8'));
    expect(json).toMatchObject({
      mediaType: SIGNING_CONFIG_MEDIA_TYPE,
      caUrls: [{ url: 'http://127.0.0.1:5555', majorApiVersion: 1 }],
      oidcUrls: [{ url: 'http://127.0.0.1:5550', majorApiVersion: 1 }],
      rekorTlogUrls: [{ url: 'http://127.0.0.1:5556', majorApiVersion: 1 }],
      tsaUrls: [{ url: 'http://127.0.0.1:5557/api/v1/timestamp', majorApiVersion: 1 }],
      rekorTlogConfig: { selector: 'ANY' },
      tsaConfig: { selector: 'ANY' },
    });
    const builder = bundleBuilderFromSigningConfig({
      signingConfig: SigningConfig.fromJSON(json),
      identityProvider: { getToken: async () => 'unused' },
      bundleType: 'messageSignature',
    });
    expect(builder).toBeDefined();
  });

  it('produces byte-identical files after a restart (same persisted material)', async () => {
    const first = await loadTrust();
    await writeTrustFiles(first.files, first.trust, first.env);
    const before = await Promise.all([first.files.trustedRoot, first.files.signingConfig, first.files.stackEnv].map((f) => readFile(f, 'utf8')));
    const second = await loadTrust();
    await writeTrustFiles(second.files, second.trust, second.env);
    const after = await Promise.all([second.files.trustedRoot, second.files.signingConfig, second.files.stackEnv].map((f) => readFile(f, 'utf8')));
    expect(after).toEqual(before);
  });

  it('writes stack.env with the variables the service reads, absolute paths included', async () => {
    const { trust, files, env } = await loadTrust();
    await writeTrustFiles(files, trust, env);
    const parsed = parseStackEnv(await readFile(files.stackEnv, 'utf8'));
    expect(parsed).toEqual({
      SIGSTORE_FULCIO_URL: 'http://127.0.0.1:5555',
      SIGSTORE_REKOR_URL: 'http://127.0.0.1:5556',
      SIGSTORE_TSA_URL: 'http://127.0.0.1:5557/api/v1/timestamp',
      SIGSTORE_TRUSTED_ROOT_FILE: join(dir, 'trusted_root.json'),
      SIGSTORE_SIGNING_CONFIG_FILE: join(dir, 'signing_config.json'),
      IDENTITY_PROVIDER: 'token-file',
      IDENTITY_TOKEN_FILE: join(dir, 'stack', 'oidc', 'token'),
      LOCAL_OIDC_ISSUER_URL: 'http://127.0.0.1:5550',
      LOCAL_CERTIFICATE_IDENTITY: 'https://kubernetes.io/namespaces/ns/serviceaccounts/sa',
      REGISTRY_INSECURE_HOSTS: '127.0.0.1:5000',
      REGISTRY_PRIVATE_ALLOWLIST: '127.0.0.1',
      LOCAL_REGISTRY: '127.0.0.1:5000',
    });
  });
});

describe('stack.env format', () => {
  it('round-trips values that need quoting', () => {
    const env = { PLAIN: 'http://127.0.0.1:5555/a,b', SPACED: '/tmp/with space/x', QUOTED: 'say "hi"\nbye', EMPTY: '' };
    expect(parseStackEnv(formatStackEnv(env, ['header']))).toEqual(env);
  });

  it('reads dotenv-style lines: comments, export, single quotes, trailing comments', () => {
    const text = ['# comment', '', 'export A=1', "B='x # not a comment'", 'C=value # trailing', 'D = "e\\u0041"', ''].join('\n');
    expect(parseStackEnv(text)).toEqual({ A: '1', B: 'x # not a comment', C: 'value', D: 'eA' });
  });

  it('rejects lines that are not KEY=VALUE', () => {
    expect(() => parseStackEnv('JUST TEXT')).toThrow(/line 1/);
    expect(() => parseStackEnv('A="unterminated')).toThrow(/unterminated/);
  });
});

describe('stack configuration', () => {
  it('defaults to the documented ports, directories and identity', () => {
    const config = stackConfigFromEnv({}, '/repo');
    expect(config.ports).toEqual({ oidc: 5550, fulcio: 5555, rekor: 5556, tsa: 5557, registry: 5000 });
    expect(config.outputDir).toBe('/repo/.local');
    expect(config.stateDir).toBe('/repo/.local/stack');
    expect(config.kubernetes).toEqual({ namespace: 'wasm-signer', serviceAccount: 'signer' });
    expect(stackFiles(config).tokenFile).toBe('/repo/.local/stack/oidc/token');
  });

  it('takes overrides from STACK_* variables and rejects invalid ones', () => {
    const config = stackConfigFromEnv({ STACK_FULCIO_PORT: '6555', STACK_DIR: 'tmp/stack', STACK_K8S_NAMESPACE: 'ci', STACK_REGISTRY: 'off' }, '/repo');
    expect(stackUrls(config).fulcio).toBe('http://127.0.0.1:6555');
    expect(config.outputDir).toBe('/repo/tmp/stack');
    expect(config.kubernetes.namespace).toBe('ci');
    expect(config.registry.enabled).toBe(false);
    expect(() => stackConfigFromEnv({ STACK_REKOR_PORT: '70000' }, '/repo')).toThrow(/STACK_REKOR_PORT/);
    expect(() => stackConfigFromEnv({ STACK_K8S_SERVICE_ACCOUNT: 'Bad_Name' }, '/repo')).toThrow(/STACK_K8S_SERVICE_ACCOUNT/);
  });
});
