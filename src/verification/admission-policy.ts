import { readFileSync, statSync } from 'node:fs';
import { InvalidRepositoryPatternError, MAX_REPOSITORY_PATTERNS, RepositoryPatterns } from '../access/repository-patterns';
import { LruCache } from '../common/lru-cache';
import { ProblemError } from '../common/problem';
import { ConfigError } from '../config/config-error';
import { canonicalRepositoryName, type OciReference, type OciRepository, parseOciReference } from '../registry/oci-reference';
import { normalizeImage } from './admission-review';
import type { ArtifactPolicy } from './artifact-verification';
import { readPolicy } from './artifact-verification.service';
import { DEFAULT_TRUST_ROOT } from './trust-roots';

export const ADMISSION_POLICY_VARIABLE = 'ADMISSION_POLICY_FILE';
/** A policy file is a few KiB; anything past this is refused rather than read. */
export const MAX_ADMISSION_POLICY_FILE_BYTES = 1024 * 1024;

/** Images whose reading (below) each policy remembers: a cluster runs the same few images over and over. */
const REMEMBERED_IMAGES = 1024;

/** An image as a container names it, read: its reference, repository, canonical name and the rule that judges it. */
export interface AdmissionImage {
  reference: OciReference;
  repo: OciRepository;
  /** canonicalRepositoryName of repo. */
  name: string;
  /** undefined: no pattern covers it. */
  rule: AdmissionRule | undefined;
}

export interface AdmissionRule {
  /** The pattern as written (canonical form). */
  pattern: string;
  policy: ArtifactPolicy;
  trustRoot: string;
}

/**
 * The cluster's admission policy (ADMISSION_POLICY_FILE), JSON:
 * `{"images":[{"pattern":"registry.example/team/**","policy":{…as POST /v1/verifications…},"trustRoot":"default"}]}`.
 * The first rule whose pattern (repository-patterns.ts syntax) matches an image's canonical repository
 * name judges it; an image no rule covers is not judged.
 */
export class AdmissionPolicy {
  private readonly images = new LruCache<string, AdmissionImage>(REMEMBERED_IMAGES);

  private constructor(
    readonly rules: readonly AdmissionRule[],
    private readonly matchers: readonly RepositoryPatterns[],
  ) {}

  /**
   * The image normalised as the runtime reads it, parsed, and the rule that judges it; remembered per
   * image text (the reading and the pattern matching are most of a warm review's own CPU). Throws the
   * reference parser's error for an image that cannot be read (not remembered).
   */
  read(image: string): AdmissionImage {
    let read = this.images.get(image);
    if (!read) {
      const reference = parseOciReference(normalizeImage(image));
      const repo = { registry: reference.registry, repository: reference.repository };
      const name = canonicalRepositoryName(repo);
      read = { reference, repo, name, rule: this.ruleFor(name) };
      this.images.set(image, read);
    }
    return read;
  }

  /** The rule for a repository by its canonical name (`canonicalRepositoryName`); undefined: not covered. */
  ruleFor(canonicalName: string): AdmissionRule | undefined {
    const index = this.matchers.findIndex((matcher) => matcher.allows(canonicalName));
    return index === -1 ? undefined : this.rules[index];
  }

  /** Parses the file's text; throws ConfigError naming every rule that is wrong (and why). */
  static parse(text: string, trustRootNames: readonly string[]): AdmissionPolicy {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw configError([`is not JSON: ${(error as Error).message}`]);
    }
    const images = (document as { images?: unknown } | null)?.images;
    if (typeof document !== 'object' || document === null || Array.isArray(document) || !Array.isArray(images)) {
      throw configError(['must be a JSON object with an "images" array of {pattern, policy, trustRoot?}']);
    }
    if (images.length > MAX_REPOSITORY_PATTERNS) throw configError([`holds ${images.length} rules, more than ${MAX_REPOSITORY_PATTERNS}`]);
    const problems: string[] = [];
    const rules: AdmissionRule[] = [];
    const matchers: RepositoryPatterns[] = [];
    images.forEach((entry: unknown, index) => {
      const where = `images[${index}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return void problems.push(`${where} must be an object`);
      const { pattern, policy, trustRoot = DEFAULT_TRUST_ROOT, ...rest } = entry as Record<string, unknown>;
      const unknownFields = Object.keys(rest);
      if (unknownFields.length > 0) return void problems.push(`${where}: unknown field(s) ${unknownFields.join(', ')}; known: pattern, policy, trustRoot`);
      if (typeof pattern !== 'string') return void problems.push(`${where}.pattern must be a string`);
      if (typeof trustRoot !== 'string' || !trustRootNames.includes(trustRoot)) {
        return void problems.push(`${where}.trustRoot must name a configured trust root (${trustRootNames.join(', ')}), not ${JSON.stringify(trustRoot)}`);
      }
      if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) return void problems.push(`${where}.policy must be an object`);
      try {
        const matcher = RepositoryPatterns.parse([pattern]);
        rules.push({ pattern: matcher.patterns[0]!, policy: readPolicy(policy as Record<string, unknown>), trustRoot });
        matchers.push(matcher);
      } catch (error) {
        if (error instanceof InvalidRepositoryPatternError) problems.push(`${where}.pattern: ${error.message}`);
        else if (error instanceof ProblemError) problems.push(`${where}.policy: ${error.code}: ${error.detail ?? error.title}`);
        else throw error;
      }
    });
    if (problems.length > 0) throw configError(problems);
    return new AdmissionPolicy(rules, matchers);
  }

  /** Reads and parses the file now; throws ConfigError when it cannot be read or is not valid. */
  static read(path: string, trustRootNames: readonly string[]): AdmissionPolicy {
    return AdmissionPolicy.parse(AdmissionPolicy.readText(path), trustRootNames);
  }

  /** The file's text, read now; throws ConfigError when it cannot be read or is too large. */
  static readText(path: string): string {
    try {
      if (statSync(path).size > MAX_ADMISSION_POLICY_FILE_BYTES) throw configError([`${path} is larger than ${MAX_ADMISSION_POLICY_FILE_BYTES} bytes`]);
      return readFileSync(path, 'utf8');
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw configError([`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`]);
    }
  }
}

const configError = (messages: string[]) => new ConfigError(messages.map((message) => ({ variable: ADMISSION_POLICY_VARIABLE, message })));
