import { ProblemError } from '../common/problem';
import { type TrustRootEvent, type TrustRootSource, type TufTrustRootSource, TrustRootLoader } from '../sigstore/trust-root-loader';
import { type TrustedRootContents, describeTrustedRoot } from '../sigstore/trusted-root';

export const PUBLIC_GOOD = 'public-good';
export const DEFAULT_TRUST_ROOT = 'default';

export interface NamedTrustRootFile {
  name: string;
  file: string;
}

export interface TrustRootsOptions {
  /** Directory of the TUF cache of the public-good root. */
  dataDir: string;
  /** SIGSTORE_TRUSTED_ROOT_FILE: the root named `default` (otherwise `default` is public-good). */
  defaultFile?: string;
  /** TRUST_ROOTS: further roots by name. */
  files?: readonly NamedTrustRootFile[];
  /** The TUF mirror, timeout and background refresh of public-good (defaults: the public mirror, no refresh). */
  tuf?: Omit<TufTrustRootSource, 'tufCacheDir'>;
  /** Told when a TUF root goes stale or fresh again. */
  onEvent?: (name: string, event: TrustRootEvent) => void;
  /** Makes a loader; tests replace the TUF fetch through it. */
  loader?: (source: TrustRootSource, onEvent?: (event: TrustRootEvent) => void) => TrustRootLoader;
}

interface Entry {
  name: string;
  loader: TrustRootLoader;
  aliasOf?: string;
}

/** A trust root as listed by `GET /v1/trust-roots`. */
export interface TrustRootDescription {
  name: string;
  source: string;
  aliasOf: string | null;
  state: 'loaded' | 'stale' | 'not-loaded' | 'failed';
  loadedAt: string | null;
  error: { code: string; message: string } | null;
  /** A TUF root once loaded: where the root in use came from and how current it is. */
  tuf: TufRootStatus | null;
  contents: TrustedRootContents | null;
}

/** How current a TUF root is (GET /v1/trust-roots, /health/ready). */
export interface TufRootStatus {
  /** `tuf`: fetched from the mirror; `disk`: the last good copy; `embedded`: the copy inside @sigstore/tuf. */
  servedFrom: 'tuf' | 'disk' | 'embedded';
  fetchedAt: string | null;
  ageSeconds: number | null;
  staleSince: string | null;
  nextAttemptAt: string | null;
}

/**
 * The named trust roots verification may use: `public-good` (Sigstore's, through TUF, loaded on first
 * use because it needs the network), `default` (SIGSTORE_TRUSTED_ROOT_FILE, else public-good) and the
 * roots of TRUST_ROOTS. Each is parsed once and kept.
 */
export class TrustRoots {
  private readonly entries = new Map<string, Entry>();

  constructor(options: TrustRootsOptions) {
    const make = options.loader ?? ((source: TrustRootSource, onEvent?: (event: TrustRootEvent) => void) => new TrustRootLoader(source, undefined, { onEvent }));
    const onEvent = options.onEvent;
    const publicGood = make({ ...options.tuf, tufCacheDir: options.dataDir }, onEvent && ((event) => onEvent(PUBLIC_GOOD, event)));
    this.entries.set(PUBLIC_GOOD, { name: PUBLIC_GOOD, loader: publicGood });
    this.entries.set(
      DEFAULT_TRUST_ROOT,
      options.defaultFile ? { name: DEFAULT_TRUST_ROOT, loader: make({ file: options.defaultFile }) } : { name: DEFAULT_TRUST_ROOT, loader: publicGood, aliasOf: PUBLIC_GOOD },
    );
    for (const { name, file } of options.files ?? []) {
      if (this.entries.has(name)) throw new Error(`trust root ${name} is defined twice`);
      this.entries.set(name, { name, loader: make({ file }) });
    }
  }

  /** The root signatures of this service are checked with (`default`). */
  get defaultRoot(): TrustRootLoader {
    return this.entries.get(DEFAULT_TRUST_ROOT)!.loader;
  }

  get names(): string[] {
    return [...this.entries.keys()];
  }

  /** The named root, or a 422 problem naming the roots there are. */
  get(name: string): TrustRootLoader {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new ProblemError(422, 'TRUST_ROOT_NOT_FOUND', 'No such trust root', `there is no trust root named ${JSON.stringify(name)}; configured: ${this.names.join(', ')}`, {
        trustRoots: this.names,
      });
    }
    return entry.loader;
  }

  /** The roots fetched through TUF (public-good), by name, without aliases. */
  get tufRoots(): { name: string; loader: TrustRootLoader }[] {
    return [...this.entries.values()].filter((e) => !e.aliasOf && !e.loader.isLocal).map(({ name, loader }) => ({ name, loader }));
  }

  /**
   * Loads at start the TUF roots that were used before (a last good copy is on disk, or an operator put
   * one there), so that readiness tells at once whether they are current; the others still load on
   * first use. Never throws: a failure is reported like one on first use.
   */
  async loadUsedRoots(): Promise<void> {
    await Promise.all(
      this.tufRoots.map(async ({ loader }) => {
        if (await loader.hasLastGoodCopy()) await loader.load().catch(() => undefined);
      }),
    );
  }

  /** Stops the background refreshes (at shutdown). */
  close(): void {
    for (const { loader } of this.entries.values()) loader.close();
  }

  /**
   * Every root with what it holds. Roots read from files are loaded for this (no network); a TUF root is
   * described only once something has loaded it.
   */
  async describe(): Promise<TrustRootDescription[]> {
    await Promise.all([...this.entries.values()].filter((e) => e.loader.isLocal).map((e) => e.loader.load().catch(() => undefined)));
    return [...this.entries.values()].map(({ name, loader, aliasOf }) => {
      const loaded = loader.loaded;
      const failure = loader.lastFailure;
      const tuf = tufRootStatus(loader);
      const stale = loader.freshness?.state === 'stale';
      const lastError = stale ? loader.freshness!.lastError : failure;
      return {
        name,
        source: loader.sourceName,
        aliasOf: aliasOf ?? null,
        state: loaded ? (stale ? 'stale' : 'loaded') : failure ? 'failed' : 'not-loaded',
        loadedAt: loaded ? loaded.loadedAt.toISOString() : null,
        error: lastError ? { code: 'TRUST_ROOT_UNAVAILABLE', message: lastError.message } : null,
        tuf,
        contents: loaded ? describeTrustedRoot(loaded.root) : null,
      };
    });
  }
}

/** A loaded TUF root's freshness as reported; null for a file root or one not loaded. */
export function tufRootStatus(loader: TrustRootLoader, now = Date.now()): TufRootStatus | null {
  const freshness = loader.freshness;
  if (!freshness || !freshness.origin || freshness.origin === 'file') return null;
  return {
    servedFrom: freshness.origin,
    fetchedAt: freshness.fetchedAt?.toISOString() ?? null,
    ageSeconds: freshness.fetchedAt ? Math.max(0, Math.round((now - freshness.fetchedAt.getTime()) / 1000)) : null,
    staleSince: freshness.staleSince?.toISOString() ?? null,
    nextAttemptAt: freshness.nextAttemptAt?.toISOString() ?? null,
  };
}
