/**
 * End to end against the local supply-chain stack (dev/stack): real HTTP to the OIDC issuer, Fulcio,
 * Rekor and the TSA, signing with @sigstore/sign and verifying with @sigstore/verify.
 */
import { createHash, generateKeyPairSync, sign as signData, verify as verifySignature } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import { json, X509Certificate } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DSSEBundleBuilder, FulcioSigner, MessageSignatureBundleBuilder, RekorWitness, TSAWitness } from '@sigstore/sign';
import { PolicyError, toSignedEntity, toTrustMaterial, Verifier, type VerificationPolicy } from '@sigstore/verify';
import { decodeJwt } from 'jose';
import { ensureLocalStack, type LocalStackHandle } from '../dev/stack/ensure-local-stack';
import { findRepoRoot } from '../dev/stack/stack-config';
import { freePorts } from './support/private-stack';

const OID_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const repoRoot = findRepoRoot(__dirname);

interface RekorEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: { inclusionProof: { treeSize: number; rootHash: string; hashes: string[]; logIndex: number; checkpoint: string }; signedEntryTimestamp: string };
}

describe('local supply-chain stack', () => {
  let stack: LocalStackHandle;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await ensureLocalStack({ repoRoot });
    env = stack.env;
  }, 90_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const readToken = () => readFile(env.IDENTITY_TOKEN_FILE!, 'utf8').then((t) => t.trim());

  async function mint(options: Record<string, unknown>): Promise<string> {
    const response = await fetch(`${env.LOCAL_OIDC_ISSUER_URL}/mint`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(options),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { token: string }).token;
  }

  async function requestCertificate(token: string) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const subject = String(decodeJwt(token).sub);
    const response = await fetch(`${env.SIGSTORE_FULCIO_URL}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        credentials: { oidcIdentityToken: token },
        publicKeyRequest: {
          publicKey: { algorithm: 'ECDSA', content: publicKey.export({ format: 'pem', type: 'spki' }).toString() },
          proofOfPossession: signData('sha256', Buffer.from(subject), privateKey).toString('base64'),
        },
      }),
    });
    return { response, body: (await response.json()) as Record<string, unknown> };
  }

  async function loadTrustedRoot(file = env.SIGSTORE_TRUSTED_ROOT_FILE!) {
    return TrustedRoot.fromJSON(JSON.parse(await readFile(file, 'utf8')));
  }

  function verifyBundle(bundle: Bundle, data: Buffer | undefined, trustedRoot: TrustedRoot, policy: VerificationPolicy) {
    // Both the Rekor SET and the TSA timestamp must verify (threshold 2), plus the SCT and the log entry.
    const verifier = new Verifier(toTrustMaterial(trustedRoot), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 2 });
    return verifier.verify(toSignedEntity(bundle, data), policy);
  }

  function signers(fulcioUrl: string, rekorUrl: string, tsaUrl: string, tokenFile: string) {
    const signer = new FulcioSigner({
      fulcioBaseURL: fulcioUrl,
      identityProvider: { getToken: async () => (await readFile(tokenFile, 'utf8')).trim() },
    });
    const witnesses = [new RekorWitness({ rekorBaseURL: rekorUrl }), new TSAWitness({ tsaBaseURL: tsaUrl })];
    return { signer, witnesses };
  }

  const identityPolicy = (): VerificationPolicy => ({
    subjectAlternativeName: env.LOCAL_CERTIFICATE_IDENTITY!,
    extensions: { issuer: env.LOCAL_OIDC_ISSUER_URL! },
  });

  it('writes stack.env pointing at the stack', () => {
    expect(env).toMatchObject({
      SIGSTORE_FULCIO_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      SIGSTORE_REKOR_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      SIGSTORE_TSA_URL: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/timestamp$/),
      IDENTITY_PROVIDER: 'token-file',
      LOCAL_REGISTRY: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(env.REGISTRY_INSECURE_HOSTS).toBe(env.LOCAL_REGISTRY);
    for (const key of ['SIGSTORE_TRUSTED_ROOT_FILE', 'SIGSTORE_SIGNING_CONFIG_FILE', 'IDENTITY_TOKEN_FILE']) {
      expect(env[key]).toMatch(/^\//);
    }
  });

  it('certifies a fresh token from the token file with the Kubernetes identity and the local issuer', async () => {
    const token = await readToken();
    const claims = decodeJwt(token) as { aud: string[]; iss: string; sub: string; 'kubernetes.io': { namespace: string; serviceaccount: { name: string } } };
    expect(claims.aud).toEqual(['sigstore']);
    expect(claims.iss).toBe(env.LOCAL_OIDC_ISSUER_URL);
    const k8s = claims['kubernetes.io'];
    expect(claims.sub).toBe(`system:serviceaccount:${k8s.namespace}:${k8s.serviceaccount.name}`);

    const { response, body } = await requestCertificate(token);
    expect(response.status).toBe(201);
    const pems = (body as { signedCertificateEmbeddedSct: { chain: { certificates: string[] } } }).signedCertificateEmbeddedSct.chain.certificates;
    const [leaf, root] = pems.map((p) => X509Certificate.parse(p));
    expect(leaf!.subjectAltName).toBe(`https://kubernetes.io/namespaces/${k8s.namespace}/serviceaccounts/${k8s.serviceaccount.name}`);
    expect(leaf!.subjectAltName).toBe(env.LOCAL_CERTIFICATE_IDENTITY);
    expect(leaf!.extension(OID_ISSUER_V1)!.value.toString('ascii')).toBe(env.LOCAL_OIDC_ISSUER_URL);
    expect(leaf!.extension(OID_ISSUER_V2)!.valueObj.subs[0]!.value.toString('utf8')).toBe(env.LOCAL_OIDC_ISSUER_URL);
    expect(leaf!.extSCT).toBeDefined();
    // The chain's root is the one published in trusted_root.json, and it signed the leaf.
    const trustedRoot = await loadTrustedRoot();
    const published = X509Certificate.parse(Buffer.from(trustedRoot.certificateAuthorities[0]!.certChain!.certificates[0]!.rawBytes));
    expect(root!.equals(published)).toBe(true);
    expect(leaf!.verify(published)).toBe(true);
  });

  it('refuses an expired token and a wrong-audience token with 401 and a message naming the problem', async () => {
    const expired = await requestCertificate(await mint({ expiresIn: -60 }));
    expect(expired.response.status).toBe(401);
    expect(expired.body.message).toMatch(/token expired/);

    const wrongAudience = await requestCertificate(await mint({ aud: ['not-sigstore'] }));
    expect(wrongAudience.response.status).toBe(401);
    expect(wrongAudience.body.message).toMatch(/invalid audience/);

    const foreignIssuer = await requestCertificate(await mint({ issuer: 'https://issuer.invalid' }));
    expect(foreignIssuer.response.status).toBe(401);
    expect(foreignIssuer.body.message).toMatch(/untrusted issuer/);
  });

  it('signs a message and a DSSE envelope that verify with trusted_root.json and an identity policy, and serves their Rekor entries', async () => {
    const { signer, witnesses } = signers(env.SIGSTORE_FULCIO_URL!, env.SIGSTORE_REKOR_URL!, env.SIGSTORE_TSA_URL!, env.IDENTITY_TOKEN_FILE!);
    const trustedRoot = await loadTrustedRoot();
    const data = Buffer.from(`wasm-signer local stack e2e ${Date.now()} ${Math.random()}`);

    const message = bundleFromJSON(bundleToJSON(await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data })));
    const signerIdentity = verifyBundle(message, data, trustedRoot, identityPolicy());
    expect(signerIdentity.identity).toMatchObject({ subjectAlternativeName: env.LOCAL_CERTIFICATE_IDENTITY, extensions: { issuer: env.LOCAL_OIDC_ISSUER_URL } });
    expect(() => verifyBundle(message, Buffer.from('other data'), trustedRoot, identityPolicy())).toThrow();
    expect(() => verifyBundle(message, data, trustedRoot, { subjectAlternativeName: 'https://kubernetes.io/namespaces/other/serviceaccounts/x' })).toThrow(PolicyError);

    const statement = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { sha256: createHash('sha256').update(data).digest('hex') } }],
        predicateType: 'https://sigstore.dev/cosign/sign/v1',
        predicate: {},
      }),
    );
    const envelope = bundleFromJSON(bundleToJSON(await new DSSEBundleBuilder({ signer, witnesses }).create({ data: statement, type: 'application/vnd.in-toto+json' })));
    expect(verifyBundle(envelope, undefined, trustedRoot, identityPolicy()).identity?.subjectAlternativeName).toBe(env.LOCAL_CERTIFICATE_IDENTITY);

    const tlogKey = trustedRoot.tlogs[0]!.publicKey!.rawBytes!;
    for (const bundle of [message, envelope]) {
      const tlogEntry = bundle.verificationMaterial.tlogEntries[0]!;
      const byIndex = await fetchEntry(`${env.SIGSTORE_REKOR_URL}/api/v1/log/entries?logIndex=${tlogEntry.logIndex}`);
      const [uuid, entry] = byIndex;
      expect(uuid).toMatch(/^[0-9a-f]{80}$/);
      const leafHash = createHash('sha256')
        .update(Buffer.from([0x00]))
        .update(tlogEntry.canonicalizedBody)
        .digest('hex');
      expect(uuid.slice(16)).toBe(leafHash);
      expect(entry.body).toBe(tlogEntry.canonicalizedBody.toString('base64'));
      expect(entry.logIndex).toBe(Number(tlogEntry.logIndex));
      expect(entry.integratedTime).toBe(Number(tlogEntry.integratedTime));
      expect(entry.logID).toBe(tlogEntry.logId.keyId.toString('hex'));
      const setPayload = json.canonicalize({ body: entry.body, integratedTime: entry.integratedTime, logID: entry.logID, logIndex: entry.logIndex });
      expect(
        verifySignature(
          'sha256',
          Buffer.from(setPayload),
          { key: Buffer.from(tlogKey), format: 'der', type: 'spki' },
          Buffer.from(entry.verification.signedEntryTimestamp, 'base64'),
        ),
      ).toBe(true);

      const [uuidAgain, byUuid] = await fetchEntry(`${env.SIGSTORE_REKOR_URL}/api/v1/log/entries/${uuid}`);
      const [uuidShort, byLeafHash] = await fetchEntry(`${env.SIGSTORE_REKOR_URL}/api/v1/log/entries/${leafHash}`);
      expect(uuidAgain).toBe(uuid);
      expect(uuidShort).toBe(uuid);
      expect(byUuid.body).toBe(entry.body);
      expect(byLeafHash.logIndex).toBe(entry.logIndex);
    }
    // The DSSE entry is stored in Rekor's canonical dsse form, not as the proposed envelope.
    const dsseBody = JSON.parse(envelope.verificationMaterial.tlogEntries[0]!.canonicalizedBody.toString('utf8'));
    expect(Object.keys(dsseBody.spec).sort()).toEqual(['envelopeHash', 'payloadHash', 'signatures']);
  }, 30_000);

  it('keeps trust and the log across a restart: a bundle made before verifies with the trusted root after', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wasm-signer-stack-'));
    const ports = await freePorts(4);
    const privateEnv = {
      STACK_DIR: dir,
      STACK_OIDC_PORT: String(ports[0]),
      STACK_FULCIO_PORT: String(ports[1]),
      STACK_REKOR_PORT: String(ports[2]),
      STACK_TSA_PORT: String(ports[3]),
      STACK_REGISTRY: 'off',
    };
    let privateStack: LocalStackHandle | undefined;
    try {
      privateStack = await ensureLocalStack({ repoRoot, env: privateEnv });
      expect(privateStack.started).toBe(true);
      const first = privateStack.env;
      const trustedRootBefore = await readFile(first.SIGSTORE_TRUSTED_ROOT_FILE!, 'utf8');
      const { signer, witnesses } = signers(first.SIGSTORE_FULCIO_URL!, first.SIGSTORE_REKOR_URL!, first.SIGSTORE_TSA_URL!, first.IDENTITY_TOKEN_FILE!);
      const data = Buffer.from('signed before the restart');
      const signedBefore = await new MessageSignatureBundleBuilder({ signer, witnesses }).create({ data });
      // Kept as JSON across the restart, as the service stores bundles (proto3 JSON omits a zero logIndex).
      const before = bundleToJSON(signedBefore);
      const indexBefore = Number(signedBefore.verificationMaterial.tlogEntries[0]!.logIndex);

      await privateStack.stop();
      privateStack = await ensureLocalStack({ repoRoot, env: privateEnv });
      expect(privateStack.started).toBe(true);
      const second = privateStack.env;

      const trustedRootAfter = await readFile(second.SIGSTORE_TRUSTED_ROOT_FILE!, 'utf8');
      expect(trustedRootAfter).toBe(trustedRootBefore);
      const trustedRoot = TrustedRoot.fromJSON(JSON.parse(trustedRootAfter));
      const policy = { subjectAlternativeName: second.LOCAL_CERTIFICATE_IDENTITY!, extensions: { issuer: second.LOCAL_OIDC_ISSUER_URL! } };
      expect(verifyBundle(bundleFromJSON(before), data, trustedRoot, policy).identity?.subjectAlternativeName).toBe(second.LOCAL_CERTIFICATE_IDENTITY);

      // The log kept the entry and continues its indices.
      const [, kept] = await fetchEntry(`${second.SIGSTORE_REKOR_URL}/api/v1/log/entries?logIndex=${indexBefore}`);
      expect(kept.body).toBe(signedBefore.verificationMaterial.tlogEntries[0]!.canonicalizedBody.toString('base64'));
      const again = signers(second.SIGSTORE_FULCIO_URL!, second.SIGSTORE_REKOR_URL!, second.SIGSTORE_TSA_URL!, second.IDENTITY_TOKEN_FILE!);
      const after = await new MessageSignatureBundleBuilder(again).create({ data: Buffer.from('signed after the restart') });
      expect(Number(after.verificationMaterial.tlogEntries[0]!.logIndex)).toBe(indexBefore + 1);
      expect(verifyBundle(after, Buffer.from('signed after the restart'), trustedRoot, policy)).toBeDefined();
    } finally {
      await privateStack?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

async function fetchEntry(url: string): Promise<[string, RekorEntry]> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  const body = (await response.json()) as Record<string, RekorEntry>;
  const entries = Object.entries(body);
  expect(entries).toHaveLength(1);
  return entries[0]!;
}
