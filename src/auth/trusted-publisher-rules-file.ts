import { type BigIntStats, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { parseTrustedPublisherRules, TrustedPublisherRules, TrustedPublisherRulesError } from './trusted-publisher-rules';

/** A rules file is a few KiB; anything past this is refused rather than read. */
export const MAX_RULES_FILE_BYTES = 1024 * 1024;

export type RulesFileChange = { rules: TrustedPublisherRules; problems?: undefined } | { rules?: undefined; problems: readonly string[] };

interface Version {
  /** What identifies this version of the file without reading it: device, inode, size, change times. */
  stamp: string;
  rules?: TrustedPublisherRules;
  problems?: readonly string[];
}

/**
 * The trusted-publisher rules file (TRUSTED_PUBLISHERS_FILE), read and checked at start, and read again
 * when it changes: each token request first looks at the file's status (one stat, no read), and a
 * different inode, size or modification time makes it read and check the file again. So a changed rule
 * holds from the next request on, on every replica that sees the file (a Kubernetes ConfigMap, which is
 * swapped by a rename, included).
 *
 * A changed file that cannot be used (missing, unreadable, not valid) is not half-used and the old
 * rules are not kept: every token is refused (fail closed) until the file is fixed, and the problems are
 * logged once per version.
 */
export class TrustedPublisherRulesFile {
  private reloading: { stamp: string; done: Promise<void> } | undefined;

  private constructor(
    readonly path: string,
    private readonly defaultAudience: string,
    private version: Version,
    private readonly onChange: (change: RulesFileChange) => void,
  ) {}

  /** Reads and checks the file now; throws TrustedPublisherRulesError naming each problem. */
  static open(path: string, defaultAudience: string, onChange: (change: RulesFileChange) => void = () => undefined): TrustedPublisherRulesFile {
    let stats: BigIntStats;
    let text: string;
    try {
      stats = statSync(path, { bigint: true });
      if (stats.size > BigInt(MAX_RULES_FILE_BYTES)) throw new TrustedPublisherRulesError([`${path} is larger than ${MAX_RULES_FILE_BYTES} bytes`]);
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if (error instanceof TrustedPublisherRulesError) throw error;
      throw new TrustedPublisherRulesError([`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
    }
    const rules = parseTrustedPublisherRules(text, defaultAudience);
    return new TrustedPublisherRulesFile(path, defaultAudience, { stamp: stampOf(stats), rules }, onChange);
  }

  /** No file: no token is admitted (TRUSTED_PUBLISHERS_FILE unset). */
  static none(): { current(): Promise<TrustedPublisherRules> } {
    return { current: () => Promise.resolve(TrustedPublisherRules.NONE) };
  }

  /** The rules of the version last read, without looking at the file; undefined while it is not usable. */
  get rulesInForce(): TrustedPublisherRules | undefined {
    return this.version.rules;
  }

  /** The rules in force now (the file is looked at first). Throws TrustedPublisherRulesError while it is not usable. */
  async current(): Promise<TrustedPublisherRules> {
    const stamp = await this.stamp();
    if (stamp !== this.version.stamp) await this.reload(stamp);
    const { rules, problems } = this.version;
    if (!rules) throw new TrustedPublisherRulesError(problems ?? []);
    return rules;
  }

  private async stamp(): Promise<string> {
    try {
      return stampOf(await stat(this.path, { bigint: true }));
    } catch (error) {
      return `unreadable:${(error as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }

  /** Reads the file for this stamp; concurrent requests that saw the same stamp share one read. */
  private reload(stamp: string): Promise<void> {
    if (this.reloading?.stamp !== stamp) {
      const done = this.read(stamp).finally(() => {
        if (this.reloading?.done === done) this.reloading = undefined;
      });
      this.reloading = { stamp, done };
    }
    return this.reloading.done;
  }

  private async read(stamp: string): Promise<void> {
    let version: Version;
    try {
      const text = await readFile(this.path, 'utf8');
      if (Buffer.byteLength(text) > MAX_RULES_FILE_BYTES) throw new TrustedPublisherRulesError([`${this.path} is larger than ${MAX_RULES_FILE_BYTES} bytes`]);
      version = { stamp, rules: parseTrustedPublisherRules(text, this.defaultAudience) };
    } catch (error) {
      const problems = error instanceof TrustedPublisherRulesError ? error.problems : [`cannot read ${this.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`];
      version = { stamp, problems };
    }
    // Already in force (read by an earlier request): nothing changes, nothing to log. A read that raced
    // a newer change is put right by the next request, whose stamp then differs.
    if (this.version.stamp === stamp) return;
    this.version = version;
    this.onChange(version.rules ? { rules: version.rules } : { problems: version.problems! });
  }
}

const stampOf = (stats: BigIntStats): string => `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
