import { isIPv6 } from 'node:net';
import { CodedError } from '../common/coded-error';
import { MAX_REFERENCE_LENGTH } from '../common/field-limits';
import { splitHostPort } from '../common/host-patterns';
import { isSha256Digest } from './oci-media-types';

/**
 * OCI references as this service accepts them: `host[:port]/path[:tag][@sha256:<hex>]`, always with an
 * explicit registry host (no Docker Hub default). The grammar of the `distribution/reference` package
 * (reference.go, regexp.go), which Docker and containerd parse with, and a few stricter refusals where
 * that grammar lets one registry be written several ways: ports are 1-65535 without leading zeros, a
 * numeric host is dotted-decimal IPv4, an IPv6 address is a real one, and digests are sha256 only.
 * Pure, no I/O.
 */

/** A repository in a registry: `registry` is `host[:port]` as written, `repository` the path. */
export interface OciRepository {
  registry: string;
  repository: string;
}

export interface OciReference extends OciRepository {
  tag?: string;
  digest?: string;
}

/** A reference that cannot be parsed: bad input, never retried. */
export const REFERENCE_ERROR_CODES = { INVALID_REFERENCE: 'INVALID_REFERENCE' } as const;

export class InvalidReferenceError extends CodedError<keyof typeof REFERENCE_ERROR_CODES> {
  constructor(message: string) {
    super(REFERENCE_ERROR_CODES.INVALID_REFERENCE, message);
    this.name = 'InvalidReferenceError';
  }
}

// distribution/reference (regexp.go): a domain is domain-name components separated by ".", or an IPv6
// address in brackets (no zone, no embedded IPv4), then an optional port.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = new RegExp(`^(?:(${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*)|\\[([a-fA-F0-9:]+)\\])(?::([0-9]+))?$`);
// Lowercase alphanumerics separated by one period, one or two underscores, or any number of dashes.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
// `[\w][\w.-]{0,127}`, where Go's \w is ASCII letters, digits and underscore.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
// A digest as the grammar reads it (algorithm ":" hex); only sha256 with lowercase hex is then accepted,
// as go-digest accepts for sha256.
const DIGEST_SHAPE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** distribution's RepositoryNameTotalLengthMax: the path (the name without the domain) has at most 255 characters. */
const MAX_PATH_LENGTH = 255;
/** A DNS name has at most 253 characters and each label at most 63. */
const MAX_HOST_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
/**
 * The WHATWG URL parser (what fetch uses) reads a host whose last label is a number (`1.2.3.999`, `0x7f.1`,
 * `2130706433`) as an IPv4 address, in decimal, octal or hex. Such a host is accepted only as plain
 * dotted decimal, so that one address has one spelling and the host connected to is the host named.
 */
const ENDS_IN_NUMBER = /(?:^|\.)(?:[0-9]+|0[xX][0-9a-fA-F]*)$/;
const DOTTED_DECIMAL = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;

export const isValidTag = (tag: string): boolean => TAG.test(tag);

/** Docker's rule for telling a registry host from the first path component: it has a '.' or ':' or is localhost. */
const looksLikeHost = (segment: string): boolean => segment.includes('.') || segment.includes(':') || segment.startsWith('[') || segment === 'localhost';

const quote = (text: string): string => JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text);

function checkRegistry(registry: string, whole: string): void {
  const match = HOST.exec(registry);
  if (!match) {
    throw new InvalidReferenceError(`${quote(whole)}: registry host ${quote(registry)} is not a valid host[:port]`);
  }
  const [, name, ipv6, port] = match as unknown as [string, string | undefined, string | undefined, string | undefined];
  if (name !== undefined) {
    if (name.length > MAX_HOST_LENGTH || name.split('.').some((label) => label.length > MAX_LABEL_LENGTH)) {
      throw new InvalidReferenceError(`${quote(whole)}: registry host is longer than a DNS name may be (${MAX_HOST_LENGTH} characters, ${MAX_LABEL_LENGTH} per label)`);
    }
    if (ENDS_IN_NUMBER.test(name) && !DOTTED_DECIMAL.test(name)) {
      throw new InvalidReferenceError(`${quote(whole)}: registry host ${quote(name)} is neither a host name nor a dotted-decimal IPv4 address`);
    }
  }
  if (ipv6 !== undefined && !isIPv6(ipv6)) {
    throw new InvalidReferenceError(`${quote(whole)}: registry host [${ipv6}] is not an IPv6 address`);
  }
  if (port !== undefined) {
    if (port.length > 1 && port.startsWith('0')) throw new InvalidReferenceError(`${quote(whole)}: registry port ${port} has a leading zero`);
    if (port.length > 5 || Number(port) < 1 || Number(port) > 65535) {
      throw new InvalidReferenceError(`${quote(whole)}: registry port ${port.length > 10 ? `${port.slice(0, 10)}…` : port} is out of range (1-65535)`);
    }
  }
}

function checkRepository(repository: string, whole: string): void {
  if (repository === '') throw new InvalidReferenceError(`${quote(whole)}: repository path is empty`);
  for (const component of repository.split('/')) {
    if (PATH_COMPONENT.test(component)) continue;
    if (component === '') throw new InvalidReferenceError(`${quote(whole)}: repository path has an empty component ("//", or "/" at an end)`);
    if (/^\.+$/.test(component)) throw new InvalidReferenceError(`${quote(whole)}: repository path component ${quote(component)} is not allowed`);
    if (PATH_COMPONENT.test(component.toLowerCase())) {
      throw new InvalidReferenceError(`${quote(whole)}: repository path component ${quote(component)} must be lowercase`);
    }
    throw new InvalidReferenceError(
      `${quote(whole)}: repository path component ${quote(component)} is invalid ` + '(lowercase letters and digits, separated by ".", "_", "__" or dashes)',
    );
  }
  if (repository.length > MAX_PATH_LENGTH) {
    throw new InvalidReferenceError(`${quote(whole)}: repository path has ${repository.length} characters, more than ${MAX_PATH_LENGTH}`);
  }
}

function checkDigest(digest: string, whole: string): void {
  if (isSha256Digest(digest)) return;
  if (!DIGEST_SHAPE.test(digest)) {
    throw new InvalidReferenceError(`${quote(whole)}: digest ${quote(digest)} is invalid (expected "sha256:" and 64 lowercase hex digits)`);
  }
  const [algorithm, hex] = digest.split(':') as [string, string];
  if (algorithm !== 'sha256') throw new InvalidReferenceError(`${quote(whole)}: digest ${quote(digest)} is invalid: algorithm ${quote(algorithm)} is not supported (only sha256)`);
  throw new InvalidReferenceError(
    `${quote(whole)}: digest ${quote(digest)} is invalid (expected "sha256:" and 64 lowercase hex digits, not ${hex.length} ${/[A-F]/.test(hex) ? 'with uppercase ' : ''}digits)`,
  );
}

/** Splits `host[:port]/path…` into registry and the rest, insisting on an explicit registry host. */
function splitRegistry(text: string, whole: string): [registry: string, rest: string] {
  if (text === '') throw new InvalidReferenceError('reference is empty');
  if (whole.length > MAX_REFERENCE_LENGTH) throw new InvalidReferenceError(`reference has ${whole.length} characters, more than ${MAX_REFERENCE_LENGTH}`);
  if (/\s/.test(text)) throw new InvalidReferenceError(`${quote(whole)}: reference contains whitespace`);
  const slash = text.indexOf('/');
  const first = slash === -1 ? text : text.slice(0, slash);
  if (slash === -1 || !looksLikeHost(first)) {
    throw new InvalidReferenceError(`${quote(whole)}: reference must start with a registry host, e.g. registry.example.com/${text}`);
  }
  checkRegistry(first, whole);
  return [first, text.slice(slash + 1)];
}

/** Parses `host[:port]/path[:tag][@sha256:<hex>]`; throws InvalidReferenceError naming the part that is wrong. */
export function parseOciReference(text: string): OciReference {
  let rest = text;
  let digest: string | undefined;
  const at = text.indexOf('@');
  if (at !== -1) {
    digest = text.slice(at + 1);
    rest = text.slice(0, at);
  }
  const [registry, pathAndTag] = splitRegistry(rest, text);
  let repository = pathAndTag;
  let tag: string | undefined;
  const colon = pathAndTag.lastIndexOf(':');
  if (colon !== -1) {
    repository = pathAndTag.slice(0, colon);
    tag = pathAndTag.slice(colon + 1);
  }
  checkRepository(repository, text);
  if (tag !== undefined && !isValidTag(tag)) {
    throw new InvalidReferenceError(`${quote(text)}: tag ${quote(tag)} is invalid (1-128 letters, digits, "_", "." or "-", not starting with "." or "-")`);
  }
  if (digest !== undefined) checkDigest(digest, text);
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Parses `host[:port]/path` (no tag, no digest), e.g. the `repository` field of an upload. */
export function parseRepository(text: string): OciRepository {
  const [registry, repository] = splitRegistry(text, text);
  if (repository.includes('@') || repository.includes(':')) {
    throw new InvalidReferenceError(`${quote(text)}: a repository takes no tag or digest`);
  }
  checkRepository(repository, text);
  return { registry, repository };
}

/** `registry/repository[:tag][@digest]`. */
export function formatReference(reference: OciReference): string {
  return `${dockerReference(reference)}${reference.tag !== undefined ? `:${reference.tag}` : ''}${reference.digest !== undefined ? `@${reference.digest}` : ''}`;
}

/** `registry/repository`: what cosign writes as `critical.identity.docker-reference`. */
export function dockerReference(reference: OciRepository): string {
  return `${reference.registry}/${reference.repository}`;
}

/**
 * `host[:port]` as access rules compare it: the host lower-cased (an IPv6 address in its canonical
 * form), `:443` (HTTPS's default port) dropped, any other port kept. A one-label host other than
 * localhost keeps `:443`, which is what marks it as a host.
 */
export function canonicalRegistryHost(registry: string): string {
  const parsed = splitHostPort(registry);
  if (!parsed) return registry.toLowerCase();
  if (parsed.port !== undefined) return `${parsed.host}:${parsed.port}`;
  // `registry:443` keeps its port: without it, a one-label name would read as a path component.
  return looksLikeHost(parsed.host) ? parsed.host : `${parsed.host}:443`;
}

/**
 * The repository's name as access rules match it: `canonicalRegistryHost(registry)/path`, the path as is
 * (the grammar already makes it lowercase). `EXAMPLE.com:443/team/app` and `example.com/team/app` are the
 * same repository; `example.com:5000/team/app` is another.
 */
export function canonicalRepositoryName(repo: OciRepository): string {
  return `${canonicalRegistryHost(repo.registry)}/${repo.repository}`;
}
