import { CodedError } from '../common/coded-error';
import { isSha256Digest } from './oci-media-types';

/**
 * OCI references as this service accepts them: `host[:port]/path[:tag][@sha256:<hex>]`, always with an
 * explicit registry host (no Docker Hub default). Grammar from the distribution specification and the
 * `distribution/reference` package; pure, no I/O.
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

// A DNS label, an IPv4 address or an IPv6 literal in brackets, then an optional port.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:.]+\\])(?::([0-9]{1,5}))?$`);
// Lowercase alphanumerics separated by one period, one or two underscores, or any number of dashes.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Most clients (and many registries) refuse longer `host/path` names. */
const MAX_NAME_LENGTH = 255;

export const isValidTag = (tag: string): boolean => TAG.test(tag);

/** Docker's rule for telling a registry host from the first path component: it has a '.' or ':' or is localhost. */
const looksLikeHost = (segment: string): boolean => segment.includes('.') || segment.includes(':') || segment.startsWith('[') || segment === 'localhost';

const quote = (text: string): string => JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text);

function checkRegistry(registry: string, whole: string): void {
  const match = HOST.exec(registry);
  if (!match) {
    throw new InvalidReferenceError(`${quote(whole)}: registry host ${quote(registry)} is not a valid host[:port]`);
  }
  const port = match[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
    throw new InvalidReferenceError(`${quote(whole)}: registry port ${port} is out of range (1-65535)`);
  }
}

function checkRepository(registry: string, repository: string, whole: string): void {
  if (repository === '') throw new InvalidReferenceError(`${quote(whole)}: repository path is empty`);
  for (const component of repository.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw new InvalidReferenceError(
        `${quote(whole)}: repository path component ${quote(component)} is invalid ` + '(lowercase letters and digits, separated by ".", "_", "__" or dashes)',
      );
    }
  }
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    throw new InvalidReferenceError(`${quote(whole)}: registry host and repository path exceed ${MAX_NAME_LENGTH} characters`);
  }
}

/** Splits `host[:port]/path…` into registry and the rest, insisting on an explicit registry host. */
function splitRegistry(text: string, whole: string): [registry: string, rest: string] {
  if (text === '') throw new InvalidReferenceError('reference is empty');
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
  checkRepository(registry, repository, text);
  if (tag !== undefined && !isValidTag(tag)) {
    throw new InvalidReferenceError(`${quote(text)}: tag ${quote(tag)} is invalid (1-128 letters, digits, "_", "." or "-", not starting with "." or "-")`);
  }
  if (digest !== undefined && !isSha256Digest(digest)) {
    throw new InvalidReferenceError(`${quote(text)}: digest ${quote(digest)} is invalid (expected "sha256:" and 64 lowercase hex digits)`);
  }
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Parses `host[:port]/path` (no tag, no digest), e.g. the `repository` field of an upload. */
export function parseRepository(text: string): OciRepository {
  const [registry, repository] = splitRegistry(text, text);
  if (repository.includes('@') || repository.includes(':')) {
    throw new InvalidReferenceError(`${quote(text)}: a repository takes no tag or digest`);
  }
  checkRepository(registry, repository, text);
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
