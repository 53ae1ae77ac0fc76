import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TUFOptions, getTrustedRoot } from '@sigstore/tuf';
import type { TrustMaterial } from '@sigstore/verify';
import { writeFileAtomic } from '../common/atomic-file';
import { PUBLIC_GOOD_TUF_MIRROR_URL, embeddedTrustedRoot, embeddedTufRoot } from './embedded-trusted-root';
import { LastGoodTrustedRoot } from './last-good-trusted-root';
import { parseTrustedRoot, trustMaterialOf } from './trusted-root';
import { describeError } from './verification-error';

/** The public-good root through TUF: its cache and last good copy live under `tufCacheDir` (DATA_DIR). */
export interface TufTrustRootSource {
  tufCacheDir: string;
  /** SIGSTORE_TUF_MIRROR_URL: a mirror of the public-good TUF repository; default the public one. */
  mirrorUrl?: string;
  /** SIGSTORE_TUF_TIMEOUT_SECONDS: one TUF update (all its requests) gives up after this; default 10 s. */
  timeoutMs?: number;
  /**
   * Background refresh (the service sets it): while stale, TUF is tried again after 30 s, doubling up to
   * `retryMaxMs`; while fresh, every `intervalMs` (0: never). Without it a stale root is kept as it is.
   */
  refresh?: { retryMaxMs: number; intervalMs: number };
}

export type TrustRootSource = { file: string } | TufTrustRootSource;

/** Where the root in use came from: its file, TUF now, the last good copy on disk, or the copy inside @sigstore/tuf. */
export type TrustRootOrigin = 'file' | 'tuf' | 'disk' | 'embedded';

/**
 * A trust root as loaded: the parsed root (for listing) and its verification material (for verifying).
 * Never changed once made: a refresh makes a new one (verification memos key on the material's identity).
 */
export interface LoadedTrustRoot {
  readonly root: TrustedRoot;
  readonly material: TrustMaterial;
  readonly loadedAt: Date;
  readonly origin: TrustRootOrigin;
  /** When TUF delivered it (`tuf`, `disk`: the copy's modification time); null for a file or the embedded copy. */
  readonly fetchedAt: Date | null;
}

/** How current a TUF root is: `stale` while it was not confirmed by the last TUF attempt. */
export interface TrustRootFreshness {
  state: 'not-loaded' | 'fresh' | 'stale' | 'failed';
  origin: TrustRootOrigin | null;
  fetchedAt: Date | null;
  /** Since when the root in use is stale. */
  staleSince: Date | null;
  /** The last failed TUF attempt while stale (or of a load that found no root at all). */
  lastError: { message: string; at: Date } | null;
  /** The next background refresh, if one is scheduled. */
  nextAttemptAt: Date | null;
}

/** What an operator is told about: going stale, fresh again (once each), and a last good copy not written. */
export type TrustRootEvent =
  { kind: 'stale'; origin: TrustRootOrigin; fetchedAt: Date | null; error: string } | { kind: 'fresh'; staleSince: Date } | { kind: 'last-good-not-written'; error: string };

/** The trust root could not be loaded: the file is missing or invalid, or TUF could not be reached and nothing could stand in. */
export class TrustRootUnavailableError extends Error {
  readonly code = 'TRUST_ROOT_UNAVAILABLE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TrustRootUnavailableError';
  }
}

type FetchTrustedRoot = (options: TUFOptions) => Promise<TrustedRoot>;

export interface TrustRootLoaderOptions {
  /** Told when the root goes stale or fresh again. */
  onEvent?: (event: TrustRootEvent) => void;
}

const DEFAULT_TUF_TIMEOUT_MS = 10_000;
/** The first retry of a stale root; each failure doubles the wait up to `refresh.retryMaxMs`. */
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 86_400_000;
/** The last good copy of the public-good root, under DATA_DIR. */
export const LAST_GOOD_PUBLIC_GOOD_ROOT = join('trust', 'public-good-trusted-root.json');

/**
 * Loads Sigstore trust material and keeps it: a trusted_root.json file (read once), or the public-good
 * root through TUF (starting from the root embedded in @sigstore/tuf, cached under the data directory).
 * Nothing is loaded until first asked for.
 *
 * A TUF root that was fetched is written to disk (LAST_GOOD_PUBLIC_GOOD_ROOT). When TUF cannot be
 * reached (or does not answer within the timeout), the last good copy on disk stands in, else the copy
 * embedded in @sigstore/tuf: the root is then `stale`, and with `refresh` TUF is tried again in the
 * background until it answers, when a new LoadedTrustRoot replaces the stale one. A load that finds no
 * root at all fails, is kept for reporting, and is tried again next time.
 */
export class TrustRootLoader {
  private pending: Promise<LoadedTrustRoot> | undefined;
  private current: LoadedTrustRoot | undefined;
  private failure: { message: string; at: Date } | undefined;
  private staleSince: Date | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextAttemptAt: Date | undefined;
  private retryDelayMs = FIRST_RETRY_MS;
  private closed = false;
  /** The TUF update under way (it may outlive its timeout): the next one waits for it, as both write the cache. */
  private tufInFlight: Promise<unknown> | undefined;
  private readonly lastGood: LastGoodTrustedRoot | undefined;

  constructor(
    private readonly source: TrustRootSource,
    private readonly fetchTrustedRoot: FetchTrustedRoot = getTrustedRoot,
    private readonly options: TrustRootLoaderOptions = {},
  ) {
    this.lastGood = 'file' in source ? undefined : new LastGoodTrustedRoot(join(source.tufCacheDir, LAST_GOOD_PUBLIC_GOOD_ROOT));
  }

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
    return this.current ? undefined : this.failure;
  }

  /** How current a TUF root is; undefined for a file. */
  get freshness(): TrustRootFreshness | undefined {
    if ('file' in this.source) return undefined;
    const current = this.current;
    return {
      state: !current ? (this.failure ? 'failed' : 'not-loaded') : this.staleSince ? 'stale' : 'fresh',
      origin: current?.origin ?? null,
      fetchedAt: current?.fetchedAt ?? null,
      staleSince: this.staleSince ?? null,
      lastError: (this.staleSince || !current) && this.failure ? this.failure : null,
      nextAttemptAt: this.nextAttemptAt ?? null,
    };
  }

  /** Whether a last good copy of the TUF root is on disk (the service then loads it at start). */
  async hasLastGoodCopy(): Promise<boolean> {
    return this.lastGood
      ? this.lastGood.read().then(
          () => true,
          () => false,
        )
      : false;
  }

  async trustMaterial(): Promise<TrustMaterial> {
    return (await this.load()).material;
  }

  load(): Promise<LoadedTrustRoot> {
    if (this.current) return Promise.resolve(this.current);
    this.pending ??= this.read().then(
      (loaded) => {
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

  /**
   * Asks TUF now (the background refresh does this): a root that arrives replaces the one in use (a new
   * LoadedTrustRoot, written to disk); a failure leaves the one in use, stale. Resolves either way.
   */
  async refresh(): Promise<void> {
    if ('file' in this.source) return;
    this.clearTimer();
    try {
      this.adoptFresh(await this.fetchFromTuf());
    } catch (error) {
      this.refreshFailed(error);
    }
    this.schedule();
  }

  /** Stops the background refresh (at shutdown). */
  close(): void {
    this.closed = true;
    this.clearTimer();
  }

  private async read(): Promise<LoadedTrustRoot> {
    if ('file' in this.source) {
      // Only the TUF root can be stale: a file is what the operator gave.
      const root = parseTrustedRoot(await readJsonFile(this.source.file));
      this.current = { root, material: trustMaterialOf(root), loadedAt: new Date(), origin: 'file', fetchedAt: null };
      this.failure = undefined;
      return this.current;
    }
    try {
      this.adoptFresh(await this.fetchFromTuf());
    } catch (error) {
      this.current = await this.standIn(error);
      this.goStale(error);
    }
    this.schedule();
    return this.current!;
  }

  /** The last good copy on disk, else the one embedded in @sigstore/tuf; throws with every reason when neither parses. */
  private async standIn(tufError: unknown): Promise<LoadedTrustRoot> {
    let diskError: unknown;
    try {
      const { root, fetchedAt } = await this.lastGood!.read();
      return { root, material: trustMaterialOf(root), loadedAt: new Date(), origin: 'disk', fetchedAt };
    } catch (error) {
      diskError = error;
    }
    try {
      const root = await embeddedTrustedRoot();
      return { root, material: trustMaterialOf(root), loadedAt: new Date(), origin: 'embedded', fetchedAt: null };
    } catch (embeddedError) {
      throw new Error(`TUF: ${describeError(tufError)}; last good copy: ${describeError(diskError)}; copy embedded in @sigstore/tuf: ${describeError(embeddedError)}`, {
        cause: tufError,
      });
    }
  }

  /** One TUF update, bounded by the timeout as a whole (each of its requests is bounded too). */
  private async fetchFromTuf(): Promise<{ root: TrustedRoot; json: unknown; fetchedAt: Date }> {
    const source = this.source as TufTrustRootSource;
    const timeoutMs = source.timeoutMs ?? DEFAULT_TUF_TIMEOUT_MS;
    const mirrorUrl = source.mirrorUrl ?? PUBLIC_GOOD_TUF_MIRROR_URL;
    const previous = this.tufInFlight;
    const attempt = (async () => {
      await previous?.catch(() => undefined);
      const cachePath = join(source.tufCacheDir, 'tuf-cache');
      const options: TUFOptions = { cachePath, timeout: Math.min(timeoutMs, 5_000) };
      if (mirrorUrl !== PUBLIC_GOOD_TUF_MIRROR_URL) {
        options.mirrorURL = mirrorUrl;
        options.rootPath = await writeMirrorRoot(cachePath);
      }
      return this.fetchTrustedRoot(options);
    })();
    this.tufInFlight = attempt;
    let timer: NodeJS.Timeout | undefined;
    try {
      const fetched = await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`TUF mirror ${mirrorUrl} did not answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      const json = TrustedRoot.toJSON(fetched);
      // The TUF root is checked like a file: parseTrustedRoot refuses what toTrustMaterial would widen.
      return { root: parseTrustedRoot(json), json, fetchedAt: new Date() };
    } finally {
      clearTimeout(timer);
      attempt.catch(() => undefined); // settles later when it timed out; its outcome is not wanted then
    }
  }

  private adoptFresh({ root, json, fetchedAt }: { root: TrustedRoot; json: unknown; fetchedAt: Date }): void {
    this.current = { root, material: trustMaterialOf(root), loadedAt: new Date(), origin: 'tuf', fetchedAt };
    this.failure = undefined;
    this.retryDelayMs = FIRST_RETRY_MS;
    const staleSince = this.staleSince;
    this.staleSince = undefined;
    if (staleSince) this.options.onEvent?.({ kind: 'fresh', staleSince });
    // Written after the swap: a disk that refuses the copy does not keep a good root from being used.
    void this.lastGood!.write(json, fetchedAt).catch((error: unknown) => this.options.onEvent?.({ kind: 'last-good-not-written', error: describeError(error) }));
  }

  private refreshFailed(error: unknown): void {
    if (this.staleSince) this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_MS); // capped by refresh.retryMaxMs when scheduled
    this.goStale(error);
  }

  /** The root in use was not confirmed by TUF: told once, when it goes stale. */
  private goStale(error: unknown): void {
    this.failure = { message: `${this.description} could not be fetched: ${describeError(error)}`, at: new Date() };
    if (this.staleSince) return;
    this.staleSince = new Date();
    const current = this.current!;
    this.options.onEvent?.({ kind: 'stale', origin: current.origin, fetchedAt: current.fetchedAt, error: describeError(error) });
  }

  private schedule(): void {
    const refresh = (this.source as TufTrustRootSource).refresh;
    if (!refresh || this.closed || this.timer) return;
    const delay = this.staleSince ? Math.min(this.retryDelayMs, refresh.retryMaxMs) : refresh.intervalMs;
    if (delay <= 0) return;
    // A little jitter, so processes started together do not ask the mirror together.
    const jittered = Math.round(delay * (0.9 + Math.random() * 0.2));
    this.nextAttemptAt = new Date(Date.now() + jittered);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextAttemptAt = undefined;
      void this.refresh();
    }, jittered);
    this.timer.unref();
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAttemptAt = undefined;
  }
}

/**
 * The public-good TUF root metadata as a file for @sigstore/tuf's `rootPath`, which it copies into the
 * cache of a mirror it has no seed for; replaced atomically (the client may read it at any time).
 */
async function writeMirrorRoot(cachePath: string): Promise<string> {
  const file = join(cachePath, 'public-good-tuf-root.json');
  await writeFileAtomic(file, await embeddedTufRoot());
  return file;
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
