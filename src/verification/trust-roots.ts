import { ProblemError } from '../common/problem';
import { type TrustRootSource, TrustRootLoader } from '../sigstore/trust-root-loader';
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
  /** Makes a loader; tests replace the TUF fetch through it. */
  loader?: (source: TrustRootSource) => TrustRootLoader;
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
  state: 'loaded' | 'not-loaded' | 'failed';
  loadedAt: string | null;
  error: { code: string; message: string } | null;
  contents: TrustedRootContents | null;
}

/**
 * The named trust roots verification may use: `public-good` (Sigstore's, through TUF, loaded on first
 * use because it needs the network), `default` (SIGSTORE_TRUSTED_ROOT_FILE, else public-good) and the
 * roots of TRUST_ROOTS. Each is parsed once and kept.
 */
export class TrustRoots {
  private readonly entries = new Map<string, Entry>();

  constructor(options: TrustRootsOptions) {
    const make = options.loader ?? ((source: TrustRootSource) => new TrustRootLoader(source));
    const publicGood = make({ tufCacheDir: options.dataDir });
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

  /**
   * Every root with what it holds. Roots read from files are loaded for this (no network); a TUF root is
   * described only once something has loaded it.
   */
  async describe(): Promise<TrustRootDescription[]> {
    await Promise.all([...this.entries.values()].filter((e) => e.loader.isLocal).map((e) => e.loader.load().catch(() => undefined)));
    return [...this.entries.values()].map(({ name, loader, aliasOf }) => {
      const loaded = loader.loaded;
      const failure = loader.lastFailure;
      return {
        name,
        source: loader.sourceName,
        aliasOf: aliasOf ?? null,
        state: loaded ? 'loaded' : failure ? 'failed' : 'not-loaded',
        loadedAt: loaded ? loaded.loadedAt.toISOString() : null,
        error: !loaded && failure ? { code: 'TRUST_ROOT_UNAVAILABLE', message: failure.message } : null,
        contents: loaded ? describeTrustedRoot(loaded.root) : null,
      };
    });
  }
}
