import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TUFOptions, getTrustedRoot } from '@sigstore/tuf';
import type { TrustMaterial } from '@sigstore/verify';
import { parseTrustedRoot, trustMaterialOf } from './trusted-root';
import { describeError } from './verification-error';

export type TrustRootSource = { file: string } | { tufCacheDir: string };

/** A trust root as loaded: the parsed root (for listing) and its verification material (for verifying). */
export interface LoadedTrustRoot {
  root: TrustedRoot;
  material: TrustMaterial;
  loadedAt: Date;
}

/** The trust root could not be loaded: the file is missing or invalid, or TUF could not be reached. */
export class TrustRootUnavailableError extends Error {
  readonly code = 'TRUST_ROOT_UNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrustRootUnavailableError';
  }
}

type FetchTrustedRoot = (options: TUFOptions) => Promise<TrustedRoot>;

/**
 * Loads Sigstore trust material once and keeps it: a trusted_root.json file, or the public-good root
 * through TUF (starting from the root embedded in @sigstore/tuf, cached under the data directory).
 * Nothing is loaded until first asked for; a failed load is kept for reporting and tried again next time.
 */
export class TrustRootLoader {
  private pending: Promise<LoadedTrustRoot> | undefined;
  private current: LoadedTrustRoot | undefined;
  private failure: { message: string; at: Date } | undefined;

  constructor(
    private readonly source: TrustRootSource,
    private readonly fetchTrustedRoot: FetchTrustedRoot = getTrustedRoot,
  ) {}

  get description(): string {
    return 'file' in this.source ? `trusted root ${basename(this.source.file)}` : 'Sigstore public-good trusted root (TUF)';
  }

  /** Where the root comes from, without revealing directories: the file's name, or `tuf`. */
  get sourceName(): string {
    return 'file' in this.source ? basename(this.source.file) : 'tuf';
  }

  /** Whether loading needs the network (TUF) or only a local file. */
  get isLocal(): boolean {
    return 'file' in this.source;
  }

  /** The root if it has been loaded, without loading it. */
  get loaded(): LoadedTrustRoot | undefined {
    return this.current;
  }

  /** Why the last load failed, if it did and nothing has loaded since. */
  get lastFailure(): { message: string; at: Date } | undefined {
    return this.failure;
  }

  async trustMaterial(): Promise<TrustMaterial> {
    return (await this.load()).material;
  }

  load(): Promise<LoadedTrustRoot> {
    if (this.current) return Promise.resolve(this.current);
    this.pending ??= this.read().then(
      (loaded) => {
        this.current = loaded;
        this.failure = undefined;
        this.pending = undefined;
        return loaded;
      },
      (error: unknown) => {
        this.pending = undefined; // a failed load (network, bad file) is tried again next time
        const failure = new TrustRootUnavailableError(`${this.description} could not be loaded: ${describeError(error)}`, { cause: error });
        this.failure = { message: failure.message, at: new Date() };
        throw failure;
      },
    );
    return this.pending;
  }

  private async read(): Promise<LoadedTrustRoot> {
    const json =
      'file' in this.source ? await readJsonFile(this.source.file) : TrustedRoot.toJSON(await this.fetchTrustedRoot({ cachePath: join(this.source.tufCacheDir, 'tuf-cache') }));
    // The TUF root is checked like a file: parseTrustedRoot refuses what toTrustMaterial would widen.
    const root = parseTrustedRoot(json);
    return { root, material: trustMaterialOf(root), loadedAt: new Date() };
  }
}

/** Reads a JSON file; errors name the file but not its directory (they are shown to API callers). */
async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    // Not chained: the system error names the full path.
    throw new Error(`cannot read ${basename(file)}: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${basename(file)} is not JSON: ${(error as Error).message}`);
  }
}
