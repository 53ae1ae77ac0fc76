import { CodedError, errorCodes } from '../common/coded-error';
import { IN_TOTO_STATEMENT_TYPE } from './sigstore-bundle-referrer';

/**
 * SLSA Provenance v1 (https://slsa.dev/spec/v1.0/provenance) for a component this service built: an
 * in-toto Statement v1 whose subjects are the `.wasm` and the OCI manifest, with our build type
 * (documented in docs/build-types/component-v1.md). Pure: input in, bytes out; and a bounded, tolerant
 * reader of such statements for verification.
 */

export const SLSA_PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
/** The build type of a component built by this service; what its parameters mean is documented at the URI. */
export const WASM_COMPONENT_BUILD_TYPE = 'https://wasm-signer.dev/build-types/component/v1';
/** The in-toto Statement type before v1; some producers still pair it with an SLSA v1 predicate. */
const IN_TOTO_STATEMENT_V01_TYPE = 'https://in-toto.io/Statement/v0.1';
/** Larger statements are refused unread: ours are a few KiB, and verification must stay bounded. */
export const MAX_PROVENANCE_BYTES = 1024 * 1024;

export const SLSA_PROVENANCE_ERROR_CODES = errorCodes('PROVENANCE_INPUT_INVALID');

/** Where the built source came from: an uploaded archive (by digest), or a git commit. */
export type ProvenanceSource = { kind: 'archive'; digest: string; fileName: string | null } | { kind: 'git'; url: string; commit: string };

/** An in-toto ResourceDescriptor: at least a digest (algorithm → lower-case hex). */
/** An in-toto ResourceDescriptor: a uri, a digest, or both (a toolchain part known only by its purl has no digest). */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: Record<string, string>;
  mediaType?: string;
}

export interface ProvenanceStatementInput {
  /** The `.wasm` (name: its file name) and the OCI manifest (name: the repository, e.g. `registry:5000/team/app`); digests `sha256:<hex>`. */
  subjects: { name: string; digest: string }[];
  /** What the caller chose. */
  externalParameters: {
    source: ProvenanceSource;
    builder: { name: string; options: Record<string, unknown> };
    repository: string;
    tag: string | null;
  };
  /** What the service chose. */
  internalParameters: {
    toolchain: { name: string; version: string; uri: string; digest?: { sha256: string } }[];
    /** The sandbox limits the build ran under. */
    sandbox: Record<string, unknown>;
  };
  /** The source (see resolvedSourceDependency), Cargo.lock when present, the toolchain components. */
  resolvedDependencies: ResourceDescriptor[];
  /** The service's signing identity (the certificate SAN the statement is signed with). */
  builderId: string;
  /** The job id. */
  invocationId: string;
  /** RFC 3339. */
  startedOn: string;
  finishedOn: string;
  /** The build log. */
  byproducts: ResourceDescriptor[];
}

/**
 * The statement's bytes: compact JSON, every key in a fixed order (the caller's open records — builder
 * options, sandbox limits, digest maps — with keys sorted, recursively), absent optional fields left out.
 * The same input always gives the same bytes. Throws PROVENANCE_INPUT_INVALID for a value that has no
 * faithful JSON form or a digest that is not `<algorithm>:<hex>`.
 */
export function slsaProvenanceStatement(input: ProvenanceStatementInput): Buffer {
  const { externalParameters: external, internalParameters: internal } = input;
  for (const [field, value] of [
    ['startedOn', input.startedOn],
    ['finishedOn', input.finishedOn],
  ] as const) {
    if (!RFC3339.test(value) || Number.isNaN(Date.parse(value))) invalid(`${field} ${JSON.stringify(value)} is not an RFC 3339 date-time`);
  }
  const statement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: input.subjects.map((subject, i) => ({ name: subject.name, digest: digestMap(subject.digest, `subjects[${i}].digest`) })),
    predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
    predicate: {
      buildDefinition: {
        buildType: WASM_COMPONENT_BUILD_TYPE,
        externalParameters: {
          source: sourceParameter(external.source),
          builder: { name: external.builder.name, options: canonical(external.builder.options, 'externalParameters.builder.options') },
          repository: external.repository,
          tag: external.tag,
        },
        internalParameters: {
          toolchain: internal.toolchain.map((tool, i) => ({
            name: tool.name,
            version: tool.version,
            uri: tool.uri,
            ...(tool.digest === undefined ? {} : { digest: hexDigests(tool.digest, `internalParameters.toolchain[${i}].digest`) }),
          })),
          sandbox: canonical(internal.sandbox, 'internalParameters.sandbox'),
        },
        resolvedDependencies: input.resolvedDependencies.map((dependency, i) => resourceDescriptor(dependency, `resolvedDependencies[${i}]`)),
      },
      runDetails: {
        builder: { id: input.builderId },
        metadata: { invocationId: input.invocationId, startedOn: input.startedOn, finishedOn: input.finishedOn },
        byproducts: input.byproducts.map((byproduct, i) => resourceDescriptor(byproduct, `byproducts[${i}]`)),
      },
    },
  };
  return Buffer.from(JSON.stringify(statement));
}

/**
 * The source as a resolved dependency, named `source`:
 * - git: `git+<url>@<commit>` (SPDX download location, as SLSA recommends) with digest `{gitCommit}`;
 * - an uploaded archive has no location anyone else could fetch it from, so its URI only names it, by
 *   content: `urn:wasm-signer:source-archive:sha256:<hex>` (the file name the caller gave is in
 *   externalParameters.source), with digest `{sha256}`.
 */
export function resolvedSourceDependency(source: ProvenanceSource): ResourceDescriptor {
  if (source.kind === 'git') {
    const commit = source.commit.toLowerCase();
    if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(commit)) invalid(`the git commit ${JSON.stringify(source.commit)} is not a full 40- or 64-character hex object id`);
    const url = source.url.startsWith('git+') ? source.url : `git+${source.url}`;
    return { name: 'source', uri: `${url}@${commit}`, digest: { gitCommit: commit } };
  }
  const digest = digestMap(source.digest, 'source.digest');
  const [algorithm, hex] = Object.entries(digest)[0]!;
  return { name: 'source', uri: `urn:wasm-signer:source-archive:${algorithm}:${hex}`, digest };
}

/** What verification reads from a provenance statement; null where the statement says nothing usable. */
export interface ParsedProvenance {
  subjects: { name: string | null; digest: Record<string, string> }[];
  buildType: string | null;
  builderId: string | null;
  invocationId: string | null;
  /** externalParameters.source, when it has the shape of our build type. */
  source: ProvenanceSource | null;
  /** externalParameters.builder.name. */
  builder: string | null;
}

/**
 * Reads an SLSA Provenance v1 statement (the DSSE payload of an attestation). Undefined when it is not
 * one: larger than MAX_PROVENANCE_BYTES, not JSON, not an in-toto Statement (v1, or v0.1 as some
 * producers still write), another predicate type, or without a subject list. Fields of other shapes are
 * read as null, never thrown on: the verifier decides what it needs.
 */
export function parseSlsaProvenance(payload: Buffer): ParsedProvenance | undefined {
  if (payload.length > MAX_PROVENANCE_BYTES) return undefined;
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(statement)) return undefined;
  if (statement._type !== IN_TOTO_STATEMENT_TYPE && statement._type !== IN_TOTO_STATEMENT_V01_TYPE) return undefined;
  if (statement.predicateType !== SLSA_PROVENANCE_PREDICATE_TYPE || !Array.isArray(statement.subject)) return undefined;
  const predicate = recordOrEmpty(statement.predicate);
  const definition = recordOrEmpty(predicate.buildDefinition);
  const external = recordOrEmpty(definition.externalParameters);
  const run = recordOrEmpty(predicate.runDetails);
  return {
    subjects: statement.subject.filter(isRecord).map((subject) => ({ name: stringOrNull(subject.name), digest: stringRecord(subject.digest) })),
    buildType: stringOrNull(definition.buildType),
    builderId: stringOrNull(recordOrEmpty(run.builder).id),
    invocationId: stringOrNull(recordOrEmpty(run.metadata).invocationId),
    source: readSource(external.source),
    builder: stringOrNull(recordOrEmpty(external.builder).name),
  };
}

// ── Writing ─────────────────────────────────────────────────────────────────────────────────────────

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([0-9a-fA-F]+)$/;

function sourceParameter(source: ProvenanceSource): ProvenanceSource {
  return source.kind === 'git' ? { kind: 'git', url: source.url, commit: source.commit } : { kind: 'archive', digest: source.digest, fileName: source.fileName };
}

/** `sha256:<hex>` → `{ sha256: '<hex>' }` (hex in lower case). */
function digestMap(digest: string, field: string): Record<string, string> {
  const match = DIGEST.exec(digest);
  if (!match) invalid(`${field} ${JSON.stringify(digest)} is not <algorithm>:<hex>`);
  return { [match[1]!]: match[2]!.toLowerCase() };
}

function hexDigests(digest: Record<string, string>, field: string): Record<string, string> {
  const entries = Object.entries(digest).filter(([, value]) => value !== undefined);
  if (entries.length === 0) invalid(`${field} names no digest`);
  for (const [algorithm, value] of entries) {
    if (typeof value !== 'string' || !/^[0-9a-fA-F]+$/.test(value)) invalid(`${field}.${algorithm} is not a hex string`);
  }
  return Object.fromEntries(entries.sort(byKey).map(([algorithm, value]) => [algorithm, value.toLowerCase()]));
}

function resourceDescriptor(descriptor: ResourceDescriptor, field: string): ResourceDescriptor {
  if (descriptor.digest === undefined && descriptor.uri === undefined) invalid(`${field} names neither a uri nor a digest`);
  return {
    ...(descriptor.name === undefined ? {} : { name: descriptor.name }),
    ...(descriptor.uri === undefined ? {} : { uri: descriptor.uri }),
    ...(descriptor.digest === undefined ? {} : { digest: hexDigests(descriptor.digest, `${field}.digest`) }),
    ...(descriptor.mediaType === undefined ? {} : { mediaType: descriptor.mediaType }),
  };
}

/**
 * An open record as JSON with its keys sorted at every level and undefined fields left out. Values JSON
 * cannot hold faithfully (functions, bigints, non-finite numbers, undefined in a list, class instances
 * such as Date) are refused rather than silently changed.
 */
function canonical(value: Record<string, unknown>, field: string): Record<string, unknown> {
  const walk = (node: unknown, at: string): unknown => {
    if (node === null || typeof node === 'string' || typeof node === 'boolean') return node;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) invalid(`${at} is ${node}, which JSON cannot hold`);
      return node;
    }
    if (Array.isArray(node)) return node.map((item, i) => (item === undefined ? invalid(`${at}[${i}] is undefined`) : walk(item, `${at}[${i}]`)));
    if (isPlainObject(node)) {
      return Object.fromEntries(
        Object.entries(node)
          .filter(([, item]) => item !== undefined)
          .sort(byKey)
          .map(([key, item]) => [key, walk(item, `${at}.${key}`)]),
      );
    }
    return invalid(`${at} is a ${typeof node === 'object' ? 'non-plain object' : typeof node}, which has no JSON form`);
  };
  if (!isPlainObject(value)) invalid(`${field} must be a plain object`);
  return walk(value, field) as Record<string, unknown>;
}

const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function invalid(message: string): never {
  throw new CodedError(SLSA_PROVENANCE_ERROR_CODES.PROVENANCE_INPUT_INVALID, `provenance statement: ${message}`);
}

// ── Reading ─────────────────────────────────────────────────────────────────────────────────────────

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const recordOrEmpty = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});
const stringOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function stringRecord(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(recordOrEmpty(value)).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function readSource(value: unknown): ProvenanceSource | null {
  if (!isRecord(value)) return null;
  if (value.kind === 'archive' && typeof value.digest === 'string') {
    return { kind: 'archive', digest: value.digest, fileName: stringOrNull(value.fileName) };
  }
  if (value.kind === 'git' && typeof value.url === 'string' && typeof value.commit === 'string') {
    return { kind: 'git', url: value.url, commit: value.commit };
  }
  return null;
}
