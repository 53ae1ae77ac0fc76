import type { MessagePort } from 'node:worker_threads';
import type { TrustMaterial } from '@sigstore/verify';
import { WholeStringRegExp } from '../common/caller-regexp';
import { LruCache } from '../common/lru-cache';
import type { ArtifactInput } from './artifact-binding';
import { verifyBundleDocument } from './bundle-verifier';
import type { SignerPolicy, StringMatcher } from './signer-policy';
import { parseTrustedRoot, trustMaterialOf } from './trusted-root';
import { type VerificationFailure, toVerificationFailure } from './verification-error';

/**
 * One bundle verification as data that crosses to a worker thread (structured clone): the bundle's JSON
 * document, the artifact, the signer policy with its regular expressions as source text, and the trust
 * root by the digest of its document — the document itself only when the thread asked for it.
 */
export interface BundleVerificationTask {
  bundle: unknown;
  artifact?: ArtifactInput;
  policy: PortableSignerPolicy;
  trustRoot: { digest: string; document?: unknown };
  /** Told when a thread takes the task (the pool's timeout starts then). */
  started?: MessagePort;
}

/** The answer about one bundle. `identity` and `issuer` are given once the certificate has been verified. */
export type BundleVerdict =
  { verified: true; identity: string | null; issuer: string | null } | { verified: false; identity: string | null; issuer: string | null; error: VerificationFailure };

/** A thread that has not seen this trust root yet asks for its document (then keeps its material). */
export type BundleVerificationAnswer = BundleVerdict | { trustRootNeeded: true };

type PortableMatcher = { kind: 'exact'; value: string } | { kind: 'regexp'; source: string };
export type PortableSignerPolicy = { kind: 'certificate'; identity: PortableMatcher; issuer: PortableMatcher } | { kind: 'public-key'; publicKeyPem: string };

export function portableSignerPolicy(policy: SignerPolicy): PortableSignerPolicy {
  if (policy.kind === 'public-key') return policy;
  const portable = (matcher: StringMatcher): PortableMatcher => (matcher.kind === 'exact' ? matcher : { kind: 'regexp', source: matcher.source });
  return { kind: 'certificate', identity: portable(policy.identity), issuer: portable(policy.issuer) };
}

/** Trust roots this thread has parsed, by their document's digest (a handful are configured). */
const TRUST_MATERIALS = new LruCache<string, TrustMaterial | VerificationFailure>(16);
/** Policies' patterns compiled in this thread, by source (they were checked by the caller already). */
const PATTERNS = new LruCache<string, WholeStringRegExp>(256);

/** Runs one task where it is called (a worker thread); never throws for what the inputs hold. */
export function runBundleVerificationTask(task: BundleVerificationTask): BundleVerificationAnswer {
  let material = TRUST_MATERIALS.get(task.trustRoot.digest);
  if (material === undefined) {
    if (task.trustRoot.document === undefined) return { trustRootNeeded: true };
    try {
      material = trustMaterialOf(parseTrustedRoot(task.trustRoot.document));
    } catch (error) {
      material = toVerificationFailure(error);
    }
    TRUST_MATERIALS.set(task.trustRoot.digest, material);
  }
  if (isFailure(material)) return { verified: false, identity: null, issuer: null, error: material };
  let policy: SignerPolicy;
  try {
    policy = signerPolicy(task.policy);
  } catch (error) {
    return { verified: false, identity: null, issuer: null, error: toVerificationFailure(error) };
  }
  const outcome = verifyBundleDocument(task.bundle, { artifact: task.artifact && asBuffers(task.artifact), policy, trustMaterial: material });
  return outcome.verified ? { verified: true, identity: outcome.identity, issuer: outcome.issuer } : outcome;
}

/** Tells the pool a thread has taken the task (its timeout starts now); called first thing in the thread. */
export function announceStarted(task: BundleVerificationTask): void {
  task.started?.postMessage('started');
  task.started?.close();
}

function isFailure(material: TrustMaterial | VerificationFailure): material is VerificationFailure {
  return 'code' in material;
}

/** Buffers arrive as Uint8Arrays after a structured clone. */
function asBuffers(artifact: ArtifactInput): ArtifactInput {
  const buffer = (bytes: Uint8Array) => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return artifact.kind === 'bytes' ? { kind: 'bytes', bytes: buffer(artifact.bytes) } : { ...artifact, digest: buffer(artifact.digest) };
}

function signerPolicy(policy: PortableSignerPolicy): SignerPolicy {
  if (policy.kind === 'public-key') return policy;
  return { kind: 'certificate', identity: matcher(policy.identity), issuer: matcher(policy.issuer) };
}

function matcher(portable: PortableMatcher): StringMatcher {
  if (portable.kind === 'exact') return portable;
  let regexp = PATTERNS.get(portable.source);
  if (!regexp) {
    regexp = WholeStringRegExp.compile(portable.source);
    PATTERNS.set(portable.source, regexp);
  }
  return { kind: 'regexp', source: portable.source, regexp };
}
