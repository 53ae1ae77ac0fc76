import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import type { TrustMaterial } from '@sigstore/verify';
import { Piscina } from 'piscina';
import { CodedError, errorCodes } from '../common/coded-error';
import { cpuTurns } from '../common/cpu-turns';
import type { ArtifactInput } from './artifact-binding';
import { verifyBundleDocument } from './bundle-verifier';
import { type BundleVerdict, type BundleVerificationAnswer, type BundleVerificationTask, portableSignerPolicy } from './bundle-verification-task';
import type { SignerPolicy } from './signer-policy';
import { trustedRootDigest } from './trusted-root';

export type { BundleVerdict };

/**
 * A trust root as verification takes it: its name, its material, and the trusted root it was made from
 * when there is one (what a worker thread needs to make the same material). Material made some other way
 * (tests) is verified on the calling thread.
 */
export interface VerificationTrust {
  name: string;
  material: TrustMaterial;
  root?: TrustedRoot;
}

export interface BundleVerificationRequest {
  artifact: ArtifactInput | undefined;
  policy: SignerPolicy;
  trust: VerificationTrust;
}

export const BUNDLE_VERIFICATION_POOL_ERROR_CODES = errorCodes('VERIFICATION_BUSY');

/** Too many verifications wait already: try again shortly (transient). */
export class VerificationBusyError extends CodedError<'VERIFICATION_BUSY'> {
  constructor(queued: number, retryAfterMs: number) {
    super('VERIFICATION_BUSY', `${queued} bundle verifications are waiting for a verification thread; try again shortly`, { transient: true, retryAfterMs });
    this.name = 'VerificationBusyError';
  }
}

export interface BundleVerificationPoolOptions {
  /** Worker threads; 0: in-process (one verification per event-loop turn, see cpuTurns). */
  threads: number;
  /** A verification still running after this long stops its thread and fails (VERIFIER_FAILED). */
  taskTimeoutMs: number;
  /** Verifications that may wait for a thread; more are refused (VerificationBusyError). */
  maxQueue: number;
  /** Heap limit of each thread: a bundle that makes a thread exceed it stops that thread only. */
  threadMemoryMb: number;
  /** Told each time a thread dies on a task (`crash`) or is stopped at the timeout (`timeout`); it is replaced. */
  onThreadFailure?: (reason: 'crash' | 'timeout') => void;
  /** The worker script and its Node.js options (tests); by default the compiled bundle-verification-worker beside this file. */
  worker?: { file: string; execArgv?: string[] };
}

/** Threads by default: one per core the process may use, at most 8 (each holds sigstore-js and its own trust material). */
export function defaultVerificationThreads(): number {
  return Math.min(8, availableParallelism());
}

/**
 * Bundle verification (sigstore-js: certificate chain, SCTs, Rekor SET and inclusion proof, timestamps,
 * signature — milliseconds of CPU each) on a pool of worker threads, so that the event loop does I/O
 * only and verification uses every core. piscina runs the pool: it queues tasks, replaces a thread that
 * dies, and stops a thread whose task is aborted.
 *
 * Each thread parses a trust root once, from its document sent on first need, and keeps its material
 * (with the trusted chain's own checks memoized). A thread that dies on a task (out of memory, a crash
 * in a dependency) is replaced by piscina; the task is tried once more on a fresh thread, and a bundle
 * that brings down a thread twice is answered as not verified (VERIFIER_FAILED), so one poisoned
 * signature neither takes the service down nor hides the other signatures of an artifact.
 */
export class BundleVerificationPool {
  private readonly pool: Piscina | undefined;
  private readonly options: BundleVerificationPoolOptions;
  private readonly documents = new WeakMap<TrustedRoot, { digest: string; document: unknown }>();
  private crashes = 0;
  private closed = false;

  /** Without options: in-process (what a program embedding the library surface gets by default). */
  constructor(options: Partial<BundleVerificationPoolOptions> = {}) {
    this.options = { threads: 0, taskTimeoutMs: 30_000, maxQueue: 10_000, threadMemoryMb: 256, ...options };
    if (this.options.threads <= 0) return;
    const worker = this.options.worker ?? defaultWorker();
    this.pool = new Piscina({
      filename: worker.file,
      name: 'verifyInWorker',
      minThreads: 1,
      maxThreads: this.options.threads,
      // Threads beyond the first are let go after a minute without work.
      idleTimeout: 60_000,
      maxQueue: this.options.maxQueue,
      resourceLimits: { maxOldGenerationSizeMb: this.options.threadMemoryMb },
      ...(worker.execArgv ? { execArgv: worker.execArgv } : {}),
    });
    // A thread that dies is replaced by piscina and its task rejected (handled in run); this only keeps
    // the event from being unhandled.
    this.pool.on('error', () => undefined);
  }

  get threads(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** Tasks waiting for a thread. */
  get queued(): number {
    return this.pool?.queueSize ?? cpuTurns.waiting;
  }

  /** Threads that died on a task since the start. */
  get threadCrashes(): number {
    return this.crashes;
  }

  /** Verifies a bundle document (its JSON, as sent or stored); never rejects for what the bundle holds. */
  async verify(bundle: unknown, request: BundleVerificationRequest): Promise<BundleVerdict> {
    const { root } = request.trust;
    if (!this.pool || !root)
      return cpuTurns.run(() => toVerdict(verifyBundleDocument(bundle, { artifact: request.artifact, policy: request.policy, trustMaterial: request.trust.material })));
    const trustRoot = this.trustRootDocument(root);
    const task: BundleVerificationTask = {
      bundle,
      ...(request.artifact ? { artifact: request.artifact } : {}),
      policy: portableSignerPolicy(request.policy),
      trustRoot: { digest: trustRoot.digest },
    };
    for (let attempt = 1; ; attempt++) {
      let answer: BundleVerificationAnswer;
      try {
        answer = await this.run(task);
        if ('trustRootNeeded' in answer) answer = await this.run({ ...task, trustRoot });
      } catch (error) {
        if (error instanceof VerificationBusyError || this.closed) throw error;
        const reason = (error as Error).message;
        if (error instanceof TaskTimedOut) {
          this.options.onThreadFailure?.('timeout');
          return verifierFailed(`the verification did not finish within ${this.options.taskTimeoutMs} ms of a thread taking it`);
        }
        this.crashes++;
        this.options.onThreadFailure?.('crash');
        if (attempt < 2) continue;
        return verifierFailed(`the verifying thread failed twice on this bundle (${reason})`);
      }
      if ('trustRootNeeded' in answer) return verifierFailed('the verifying thread did not take the trust root');
      return answer;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.destroy();
  }

  /**
   * One task on a thread. The timeout counts from the moment a thread takes the task (it says so on a
   * port of its own), not while the task waits for a thread: waiting is bounded by the queue's length.
   */
  private async run(task: BundleVerificationTask): Promise<BundleVerificationAnswer> {
    const pool = this.pool!;
    if (pool.queueSize >= this.options.maxQueue) throw new VerificationBusyError(pool.queueSize, 1_000);
    const abort = new AbortController();
    const { port1: started, port2: startedInThread } = new MessageChannel();
    let timer: NodeJS.Timeout | undefined;
    started.once('message', () => {
      timer = setTimeout(() => abort.abort(), this.options.taskTimeoutMs);
    });
    try {
      return (await pool.run({ ...task, started: startedInThread }, { signal: abort.signal, transferList: [startedInThread] })) as BundleVerificationAnswer;
    } catch (error) {
      if (abort.signal.aborted) throw new TaskTimedOut();
      if ((error as Error).message === 'Task queue is at limit') throw new VerificationBusyError(pool.queueSize, 1_000);
      throw error;
    } finally {
      clearTimeout(timer);
      started.close();
    }
  }

  /** The trusted root as JSON with its digest, computed once per root. */
  private trustRootDocument(root: TrustedRoot): { digest: string; document: unknown } {
    let entry = this.documents.get(root);
    if (!entry) {
      const document = TrustedRoot.toJSON(root);
      entry = { digest: trustedRootDigest(root), document };
      this.documents.set(root, entry);
    }
    return entry;
  }
}

/** A thread took longer than taskTimeoutMs on a task (piscina stopped the thread). */
class TaskTimedOut extends Error {}

function toVerdict(outcome: ReturnType<typeof verifyBundleDocument>): BundleVerdict {
  return outcome.verified ? { verified: true, identity: outcome.identity, issuer: outcome.issuer } : outcome;
}

function verifierFailed(message: string): BundleVerdict {
  return { verified: false, identity: null, issuer: null, error: { code: 'VERIFIER_FAILED', message } };
}

/**
 * The compiled worker beside this module. When this module runs from its TypeScript source (unit tests
 * through ts-jest), the worker is the .ts file loaded through tsx, a development dependency.
 */
function defaultWorker(): { file: string; execArgv?: string[] } {
  const compiled = join(__dirname, 'bundle-verification-worker.js');
  if (existsSync(compiled)) return { file: compiled };
  return { file: join(__dirname, 'bundle-verification-worker.ts'), execArgv: ['--require', require.resolve('tsx/cjs')] };
}
