/**
 * The longest value each kind of request field may have, shared by the DTOs that validate them, the
 * parsers of fields no DTO describes (upload fields, policies) and the API description. Every string a
 * caller sends has a maximum length, every list a maximum count and every map a maximum size
 * (src/openapi/openapi-field-limits.spec.ts checks the API description for it), so that no field can
 * make the service hold, log or store more than these.
 */

/** A URL: webhook receivers and job callbacks. */
export const MAX_URL_LENGTH = 2048;
/** A reference or repository as text (`host[:port]/path[:tag][@digest]`); the parser refuses longer. */
export const MAX_REFERENCE_LENGTH = 1024;
/** A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`. */
export const MAX_TAG_LENGTH = 128;
/** A digest: `sha256:` and 64 hex digits, or `sha512:` and 128. */
export const MAX_DIGEST_LENGTH = 135;
/** Annotations on an artifact, or required of a signature: at most this many, each key and value bounded. */
export const MAX_ANNOTATIONS = 64;
export const MAX_ANNOTATION_KEY_LENGTH = 255;
export const MAX_ANNOTATION_VALUE_LENGTH = 4096;
/** The `annotations` form field of an upload: a JSON object of at most MAX_ANNOTATIONS entries. */
export const MAX_ANNOTATIONS_JSON_LENGTH = 64 * 1024;
/** A name of a configured trust root. */
export const MAX_TRUST_ROOT_NAME_LENGTH = 64;
/** A field of a signer policy: an identity, an issuer, a PEM public key. */
export const MAX_POLICY_FIELD_LENGTH = 4096;
/** A Sigstore bundle sent as the text of its .sigstore.json file. */
export const MAX_BUNDLE_TEXT_LENGTH = 1024 * 1024;
/** An artifact sent inline, base64 (12 MiB of bytes); larger ones are verified by `artifactDigest`. */
export const MAX_INLINE_ARTIFACT_BASE64_LENGTH = 16 * 1024 * 1024;
/** A webhook's free-text description. */
export const MAX_DESCRIPTION_LENGTH = 500;
/** An id the service issued (a UUID), in a path. */
export const MAX_ID_LENGTH = 36;
