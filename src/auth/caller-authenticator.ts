import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { accessProblems } from '../access/access-problems';
import { type Caller, callerPrincipal } from '../access/caller';
import { RepositoryPatterns } from '../access/repository-patterns';
import { isScope, SCOPES, type Scope } from '../access/scopes';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/config.schema';
import { ExpiringLruCache } from '../common/expiring-lru-cache';
import { ApiKeyRevocations } from './api-key-revocations';
import { apiKeyHash, isWellFormedApiKey, looksLikeApiKey } from './api-key-token';
import type { ApiKeyRow } from './api-key-tables';
import { ApiKeysRepository } from './api-keys.repository';
import { TrustedPublishers } from './trusted-publishers';

/** The bootstrap admin key's identity: it is configuration, not a row, so it has a fixed id. */
export const BOOTSTRAP_KEY_ID = 'bootstrap';

/** Three base64url segments: a compact JWS, the shape of every OIDC ID token. */
export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Longer credentials are refused before any parsing (GitHub and Kubernetes tokens are ~1-2 KiB). */
export const MAX_CREDENTIAL_LENGTH = 8192;
const LAST_USE_NOTED_EVERY_MS = 60_000;
/** Bound on the per-process memory of last uses (cleared when full: at worst some extra writes). */
const MAX_NOTED_KEYS = 10_000;
/** API keys a process keeps looked up (least recently used dropped first). */
const MAX_CACHED_KEYS = 10_000;

/** A looked-up key and the caller it makes (patterns compiled once). */
interface KnownKey {
  row: ApiKeyRow;
  caller: Caller;
}

/**
 * Who is calling: the bearer credential of a request, checked against the bootstrap admin key, the API
 * keys in the database or the trusted-publisher rules. Throws 401 problems with a stable code; never logs
 * the credential.
 *
 * An API key looked up is reused for API_KEY_CACHE_TTL_SECONDS (its expiry is still checked on every
 * request). A revocation holds at once on every replica all the same: it drops the key here and, over
 * Redis, in every other process (ApiKeyRevocations); a process that does not hear Redis looks every key
 * up, and drops what it cached when it hears again.
 */
@Injectable()
export class CallerAuthenticator implements OnModuleInit {
  private readonly logger = new Logger('auth');
  private readonly bootstrapKeyHash: Buffer | undefined;
  private readonly lastNoted = new Map<string, number>();
  private readonly known: ExpiringLruCache<string, KnownKey>;
  private readonly knownTtlMs: number;
  /** Revocations heard so far: a key read from the database while one arrived is not cached (it may predate it). */
  private revocationsHeard = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly apiKeys: ApiKeysRepository,
    private readonly trustedPublishers: TrustedPublishers,
    private readonly revocations: ApiKeyRevocations,
  ) {
    const bootstrap = config.auth.bootstrapAdminKey;
    this.bootstrapKeyHash = bootstrap === undefined ? undefined : sha256(bootstrap);
    this.knownTtlMs = config.auth.apiKeyCacheTtlSeconds * 1000;
    this.known = new ExpiringLruCache(this.knownTtlMs > 0 ? MAX_CACHED_KEYS : 0);
  }

  onModuleInit(): void {
    if (this.knownTtlMs <= 0) return;
    // A revoked key is dropped; undefined (revocations may have been missed): every key is.
    this.revocations.subscribe((keyId) => {
      this.revocationsHeard += 1;
      this.known.deleteWhere((key) => keyId === undefined || key.row.id === keyId);
    });
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (authorization === undefined || authorization.trim() === '') throw accessProblems.credentialMissing();
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match?.[1]) throw accessProblems.unauthenticated('CREDENTIAL_MALFORMED', 'the Authorization header must be `Bearer <API key or OIDC token>`');
    const credential = match[1];
    if (credential.length > MAX_CREDENTIAL_LENGTH) throw accessProblems.unauthenticated('CREDENTIAL_MALFORMED', `a credential has at most ${MAX_CREDENTIAL_LENGTH} characters`);
    if (this.isBootstrapKey(credential)) return bootstrapCaller();
    if (looksLikeApiKey(credential)) return this.apiKeyCaller(credential);
    if (JWT_SHAPE.test(credential)) return this.trustedPublishers.authenticate(credential);
    throw accessProblems.unauthenticated('CREDENTIAL_MALFORMED', 'the bearer credential is neither an API key (wsk_…) nor a JWT');
  }

  /**
   * Records a key's last use at most once a minute per key and process (the repository also keeps the
   * write to once a minute across processes), so a busy key costs no write per request.
   */
  private noteUse(keyId: string): void {
    const now = Date.now();
    if (now - (this.lastNoted.get(keyId) ?? 0) < LAST_USE_NOTED_EVERY_MS) return;
    if (this.lastNoted.size >= MAX_NOTED_KEYS) this.lastNoted.clear();
    this.lastNoted.set(keyId, now);
    this.apiKeys.touch(keyId).catch((error: unknown) => this.logger.warn({ err: error, keyId }, 'could not record the last use of an API key'));
  }

  private isBootstrapKey(credential: string): boolean {
    // Compared as hashes, in constant time: equal lengths whatever was sent.
    return this.bootstrapKeyHash !== undefined && timingSafeEqual(sha256(credential), this.bootstrapKeyHash);
  }

  private async apiKeyCaller(key: string): Promise<Caller> {
    if (!isWellFormedApiKey(key)) throw accessProblems.unauthenticated('API_KEY_INVALID', 'this is not an API key this service issued');
    const hash = apiKeyHash(key);
    // Only while revocations from other processes reach this one.
    const useCache = this.knownTtlMs > 0 && this.revocations.listening;
    let known = useCache ? this.known.get(hash)?.value : undefined;
    if (!known) {
      const heard = this.revocationsHeard;
      const row = await this.apiKeys.findByHash(hash);
      if (!row) throw accessProblems.unauthenticated('API_KEY_INVALID', 'this is not an API key this service issued');
      if (row.revoked_at) throw accessProblems.unauthenticated('API_KEY_REVOKED', `API key ${row.id} (${row.name}) was revoked`);
      known = { row, caller: apiKeyCaller(row) };
      // Not past its expiry: an expired key is looked up (and refused) again.
      if (useCache && heard === this.revocationsHeard) this.known.set(hash, known, Math.min(this.knownTtlMs, row.expires_at.getTime() - Date.now()));
    }
    const { row, caller } = known;
    if (row.expires_at.getTime() <= Date.now())
      throw accessProblems.unauthenticated('API_KEY_EXPIRED', `API key ${row.id} (${row.name}) expired at ${row.expires_at.toISOString()}`);
    this.noteUse(row.id);
    return caller;
  }
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function bootstrapCaller(): Caller {
  const identity = { kind: 'api-key', keyId: BOOTSTRAP_KEY_ID, name: 'bootstrap-admin' } as const;
  return { principal: callerPrincipal(identity), identity, scopes: new Set<Scope>(SCOPES), repositories: RepositoryPatterns.ANY };
}

export function apiKeyCaller(row: ApiKeyRow): Caller {
  const identity = { kind: 'api-key', keyId: row.id, name: row.name } as const;
  return {
    principal: callerPrincipal(identity),
    identity,
    scopes: new Set(row.scopes.filter(isScope)),
    // Stored patterns were checked when the key was made.
    repositories: RepositoryPatterns.parse(row.repositories),
  };
}
