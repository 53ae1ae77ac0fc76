import { MAX_ANNOTATION_KEY_LENGTH, MAX_ANNOTATION_VALUE_LENGTH, MAX_ANNOTATIONS, MAX_ANNOTATIONS_JSON_LENGTH, MAX_REFERENCE_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { ProblemError } from '../common/problem';
import { isValidTag } from '../registry/oci-reference';
import { reservedTagReason } from '../registry/reserved-tags';

/** Annotations a caller may not set: the service writes them (the manifest's creation time). */
export const RESERVED_ANNOTATIONS: ReadonlySet<string> = new Set(['org.opencontainers.image.created']);

/**
 * Where a job puts the artifact it makes (publish and build jobs), from query parameters (raw body) or
 * form fields (multipart).
 */
export interface ArtifactTargetFields {
  repository: string;
  tag?: string;
  annotations: Record<string, string>;
  callbackUrl?: string;
}

const ANNOTATION_PREFIX = 'annotation.';
/** An OCI annotation key as accepted here: reverse-DNS style names such as `org.opencontainers.image.source`. */
const ANNOTATION_KEY = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,${MAX_ANNOTATION_KEY_LENGTH - 1}}$`);
export { MAX_ANNOTATIONS };
const FIELDS = ['repository', 'tag', 'annotations', 'callbackUrl'];
/** Form fields a multipart request may have besides the file: one per annotation, these, and a build's few more. */
export const MAX_FORM_FIELDS = MAX_ANNOTATIONS + FIELDS.length + 4;

/**
 * Reads and checks the fields. Annotations come as `annotation.<key>=<value>` entries, or (in a form)
 * as one `annotations` field holding a JSON object of strings. `otherFields` are known to the request
 * (it reads them itself); any other name is refused.
 */
export function parseArtifactTargetFields(raw: Record<string, unknown>, otherFields: readonly string[] = []): ArtifactTargetFields {
  const errors: { field: string; message: string }[] = [];
  const text = (name: string, maxLength = Number.POSITIVE_INFINITY): string | undefined => {
    const value = raw[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') {
      errors.push({ field: name, message: 'must be given once, as a string' });
      return undefined;
    }
    if (value.length > maxLength) {
      errors.push({ field: name, message: `must be at most ${maxLength} characters` });
      return undefined;
    }
    return value;
  };

  const repository = text('repository', MAX_REFERENCE_LENGTH);
  if (!repository && !errors.some((e) => e.field === 'repository')) errors.push({ field: 'repository', message: 'is required: host[:port]/path of the OCI repository' });
  // The tag's own grammar bounds it to 128 characters, and says so.
  const tag = text('tag');
  if (tag !== undefined && !isValidTag(tag))
    errors.push({ field: 'tag', message: 'must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: at most 128 characters of letters, digits, _ . -, not starting with . or -' });
  const callbackUrl = text('callbackUrl', MAX_URL_LENGTH);
  if (callbackUrl !== undefined && !/^https?:\/\//.test(callbackUrl)) errors.push({ field: 'callbackUrl', message: 'must be an http(s) URL' });

  const annotations: Record<string, string> = {};
  const json = text('annotations', MAX_ANNOTATIONS_JSON_LENGTH);
  if (json !== undefined) {
    try {
      const parsed = JSON.parse(json) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) throw new Error();
      Object.assign(annotations, parsed);
    } catch {
      errors.push({ field: 'annotations', message: 'must be a JSON object of string values' });
    }
  }
  for (const [name, value] of Object.entries(raw)) {
    if (!name.startsWith(ANNOTATION_PREFIX)) continue;
    const key = name.slice(ANNOTATION_PREFIX.length);
    if (typeof value !== 'string') errors.push({ field: name, message: 'must be given once, as a string' });
    else annotations[key] = value;
  }
  for (const [key, value] of Object.entries(annotations)) {
    // A field name is the caller's: quoted back shortened, so a long one cannot make a long answer.
    const field = `annotation.${key.length > 64 ? `${key.slice(0, 64)}…` : key}`;
    if (!ANNOTATION_KEY.test(key)) errors.push({ field, message: `is not a valid annotation key (at most ${MAX_ANNOTATION_KEY_LENGTH} letters, digits, . _ / -)` });
    if (RESERVED_ANNOTATIONS.has(key)) errors.push({ field, message: 'is set by the service' });
    if (value.length > MAX_ANNOTATION_VALUE_LENGTH) errors.push({ field, message: `must be at most ${MAX_ANNOTATION_VALUE_LENGTH} characters` });
  }
  if (Object.keys(annotations).length > MAX_ANNOTATIONS)
    errors.push({ field: 'annotations', message: `at most ${MAX_ANNOTATIONS} annotations, ${Object.keys(annotations).length} given` });

  const known = new Set([...FIELDS, ...otherFields]);
  for (const name of Object.keys(raw)) {
    if (!known.has(name) && !name.startsWith(ANNOTATION_PREFIX)) errors.push({ field: name.length > 64 ? `${name.slice(0, 64)}…` : name, message: 'is not a known field' });
  }
  if (errors.length > 0) {
    throw new ProblemError(400, 'VALIDATION_FAILED', 'The request is not valid', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
  }
  // A well-formed tag that belongs to another manifest's signatures or referrers: not the caller's to set.
  const reserved = tag === undefined ? undefined : reservedTagReason(tag);
  if (reserved !== undefined) throw new ProblemError(422, 'RESERVED_TAG', 'The tag is reserved', reserved, { field: 'tag' });
  return { repository: repository!, tag, annotations, callbackUrl };
}
