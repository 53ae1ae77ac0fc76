import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../config/config-error';
import { AdmissionPolicy, MAX_ADMISSION_POLICY_FILE_BYTES } from './admission-policy';

/** Filesystem events come in bursts (a ConfigMap swap is several renames): one check after they settle. */
const EVENT_SETTLE_MS = 100;

/** The policy in force and where it came from. */
export interface PolicyInForce {
  policy: AdmissionPolicy;
  /** sha256 (hex) of the file's bytes it was read from. */
  sha256: string;
  loadedAt: Date;
}

/** The file on disk when it could not be used: the policy in force stays the last good one. */
export interface PolicyRejection {
  /** sha256 of what was read; undefined when the file could not be read at all. */
  sha256: string | undefined;
  at: Date;
  problems: readonly string[];
}

export type PolicyFileChange = { applied: PolicyInForce } | { rejected: PolicyRejection };

/**
 * ADMISSION_POLICY_FILE, read at start (a bad file stops the start) and read again while the service
 * runs: on any event in the file's directory (fs.watch; a Kubernetes ConfigMap mount swaps a `..data`
 * symlink in it rather than writing the file) and every `intervalMs` in any case (events can be missed:
 * network filesystems, an editor's rename, a watcher that failed). Each check reads the file and
 * compares a digest of its bytes, so a content change with the same size and mtime is seen too.
 *
 * A changed file that cannot be used (unreadable, not JSON, a bad rule) is not half-used: the last good
 * policy stays in force, and the rejection is kept (`rejection`) until a good version replaces it.
 */
export class AdmissionPolicyFile {
  private inForce: PolicyInForce;
  private rejected: PolicyRejection | undefined;
  /** sha256 of the bytes last looked at (applied or rejected): the same bytes are not parsed again. */
  private lastSeen: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private again = false;

  private constructor(
    readonly path: string,
    private readonly trustRootNames: readonly string[],
    text: string,
  ) {
    const sha256 = digestOf(text);
    this.inForce = { policy: AdmissionPolicy.parse(text, trustRootNames), sha256, loadedAt: new Date() };
    this.lastSeen = sha256;
  }

  /** Reads and checks the file now; throws ConfigError (naming every bad rule) when it is not usable. */
  static open(path: string, trustRootNames: readonly string[]): AdmissionPolicyFile {
    return new AdmissionPolicyFile(path, trustRootNames, AdmissionPolicy.readText(path));
  }

  get current(): PolicyInForce {
    return this.inForce;
  }

  /** Why the file on disk is not the policy in force; undefined when it is. */
  get rejection(): PolicyRejection | undefined {
    return this.rejected;
  }

  /** Starts looking for changes; `onChange` hears of each new version applied or refused. */
  watch(intervalMs: number, onChange: (change: PolicyFileChange) => void, onWatchError: (error: Error) => void): void {
    const check = () => void this.check(onChange).catch((error: unknown) => onWatchError(error as Error));
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, () => {
        clearTimeout(this.settle);
        this.settle = setTimeout(check, EVENT_SETTLE_MS);
        this.settle.unref();
      });
      this.watcher.on('error', (error) => {
        onWatchError(error);
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (error) {
      // The periodic check still runs.
      onWatchError(error as Error);
    }
    if (intervalMs > 0) {
      this.timer = setInterval(check, intervalMs);
      this.timer.unref();
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.timer);
    clearTimeout(this.settle);
  }

  /** Reads the file once (a check under way is followed by one more, not by one per caller). */
  check(onChange: (change: PolicyFileChange) => void = () => undefined): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        const change = await this.readOnce();
        if (change) onChange(change);
      } while (this.again);
    })().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async readOnce(): Promise<PolicyFileChange | undefined> {
    let text: string;
    try {
      if ((await stat(this.path)).size > MAX_ADMISSION_POLICY_FILE_BYTES) return this.reject(undefined, [`${this.path} is larger than ${MAX_ADMISSION_POLICY_FILE_BYTES} bytes`]);
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      return this.reject(undefined, [`cannot read ${this.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
    }
    const sha256 = digestOf(text);
    if (sha256 === this.lastSeen) return undefined;
    this.lastSeen = sha256;
    if (sha256 === this.inForce.sha256) {
      // Back to the version in force (a bad edit reverted): nothing to apply, nothing refused any more.
      this.rejected = undefined;
      return { applied: this.inForce };
    }
    try {
      this.inForce = { policy: AdmissionPolicy.parse(text, this.trustRootNames), sha256, loadedAt: new Date() };
      this.rejected = undefined;
      return { applied: this.inForce };
    } catch (error) {
      // Whatever went wrong, the running service keeps its last good policy: nothing is thrown from here.
      return this.reject(sha256, error instanceof ConfigError ? error.problems.map((problem) => problem.message) : [String(error)]);
    }
  }

  private reject(sha256: string | undefined, problems: readonly string[]): PolicyFileChange | undefined {
    // The same unreadable state as last time: already reported.
    if (sha256 === undefined && this.rejected && this.rejected.sha256 === undefined && this.rejected.problems.join() === problems.join()) return undefined;
    if (sha256 === undefined) this.lastSeen = undefined;
    this.rejected = { sha256, at: new Date(), problems };
    return { rejected: this.rejected };
  }
}

const digestOf = (text: string): string => createHash('sha256').update(text).digest('hex');
