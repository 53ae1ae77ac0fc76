import { CodedError } from '../common/coded-error';
import { ExpiringLruCache } from '../common/expiring-lru-cache';
import { canonicalJson } from '../common/request-fingerprint';
import type { ArtifactPolicy } from './artifact-verification';

/** A verdict as verifyDigest computes it, before it says where it came from. */
export interface CachedVerdict {
  verified: boolean;
}

/** Everything a verdict depends on besides the registry's content: a verdict is only reused for the same. */
export interface VerdictKey {
  /** `host[:port]/path`, as dockerReference gives it. */
  repository: string;
  digest: string;
  policy: ArtifactPolicy;
  /** The trust root's name and a digest of what it holds: a changed root never meets an old verdict. */
  trustRoot: { name: string; contentDigest: string };
}

export interface VerdictCacheOptions {
  /** Entries kept at most; 0: nothing is cached. */
  maxEntries: number;
  /** How long a verified verdict is reused. */
  ttlMs: number;
  /** How long a verdict that is not verified is reused (short: a signature attached late is seen soon). */
  failedTtlMs: number;
  now?: () => number;
}

interface Entry<V> {
  /** `repository@digest`: what an invalidation names. */
  subject: string;
  verdict: V;
}

/**
 * Verdicts of POST /v1/verifications (discovery, cryptography and the policy's conditions: the whole
 * outcome), per manifest, policy, trust root and repository. The key holds the whole policy, so a
 * condition is never answered for a policy it was not evaluated with. An invalidation (a signature or
 * attestation was attached) drops every verdict of that manifest, and a verdict computed while one
 * arrived is not stored: it may predate what was attached.
 */
export class VerdictCache<V extends CachedVerdict> {
  private readonly entries: ExpiringLruCache<string, Entry<V>>;
  private invalidations = 0;

  constructor(private readonly options: VerdictCacheOptions) {
    this.entries = new ExpiringLruCache(options.maxEntries, options.now);
  }

  get size(): number {
    return this.entries.size;
  }

  /** A token to pass to `store`: a verdict computed after it is stored only when nothing was invalidated since. */
  begin(): number {
    return this.invalidations;
  }

  /** The verdict for key checked at most maxAgeMs ago (any age within its TTL when undefined), with when it was checked. */
  lookup(key: VerdictKey, maxAgeMs?: number): { verdict: V; checkedAt: number } | undefined {
    const stored = this.entries.get(verdictKeyText(key), maxAgeMs);
    return stored && { verdict: stored.value.verdict, checkedAt: stored.storedAt };
  }

  store(key: VerdictKey, verdict: V, checkedAt: number, token: number): void {
    if (token !== this.invalidations) return;
    this.entries.set(verdictKeyText(key), { subject: `${key.repository}@${key.digest}`, verdict }, verdict.verified ? this.options.ttlMs : this.options.failedTtlMs, checkedAt);
  }

  /** Drops every verdict: invalidations may have been missed (the subscriber to them reconnected). */
  invalidateAll(): number {
    this.invalidations += 1;
    return this.entries.deleteWhere(() => true);
  }

  /** Drops every verdict on `repository@digest`, whatever its policy or trust root. */
  invalidate(subject: string): number {
    this.invalidations += 1;
    return this.entries.deleteWhere((entry) => entry.subject === subject);
  }
}

/** The cache key as text: every part of the key, the policy in canonical form (compiled patterns by their source). */
export function verdictKeyText(key: VerdictKey): string {
  return canonicalJson({ repository: key.repository, digest: key.digest, trustRoot: key.trustRoot, policy: plainPolicy(key.policy) });
}

/**
 * The policy as plain data. A compiled pattern (`regexp` beside its `source`) is left out: the source
 * says all of it. Any other object that is not plain data is refused rather than serialised as `{}`,
 * which would make two different policies one key.
 */
function plainPolicy(value: unknown, path = 'policy'): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item, i) => plainPolicy(item, `${path}[${i}]`));
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) {
    throw new CodedError('POLICY_NOT_CACHEABLE', `${path} is not plain data (${(value as object).constructor?.name ?? 'unknown'}); it cannot be part of a verdict cache key`);
  }
  const record = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(record)
      .filter(([field]) => !(field === 'regexp' && typeof record.source === 'string'))
      .map(([field, member]) => [field, plainPolicy(member, `${path}.${field}`)]),
  );
}
