import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CodedError, errorCodes } from './coded-error';

/**
 * Secrets at rest: AES-256-GCM under a key-encryption key from configuration (SECRET_ENCRYPTION_KEYS).
 * The first key seals, every key opens, so keys rotate without losing what older keys sealed.
 *
 * Stored form, self-describing and versioned (base64url without padding, so it needs no quoting):
 *
 *   v1.<keyId>.<iv: 12 bytes>.<ciphertext followed by the 16-byte GCM tag>
 *
 * The additional authenticated data is `v1.<keyId>.<context>`, where the caller's `context` names the row
 * and purpose (`webhooks.sealed_secret:<subscription id>`): a ciphertext copied into another row, or
 * relabelled with another key id, fails to open instead of yielding a secret.
 *
 * node:crypto does the cipher; this module only fixes the format around it (no library offers this one).
 */

export const SECRET_BOX_ERROR_CODES = errorCodes('SECRET_ENCRYPTION_KEY_UNKNOWN', 'SEALED_SECRET_MALFORMED', 'SECRET_DECRYPTION_FAILED');
export type SecretBoxErrorCode = keyof typeof SECRET_BOX_ERROR_CODES;

/** A sealed secret that cannot be opened: its key is not configured, it is not one, or it was altered. */
export class SecretBoxError extends CodedError<SecretBoxErrorCode> {
  constructor(code: SecretBoxErrorCode, message: string) {
    super(code, message);
    this.name = 'SecretBoxError';
  }
}

/** Key ids: what may stand between the dots of the stored form and in SECRET_ENCRYPTION_KEYS. */
export const SECRET_KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
export const SECRET_KEY_BYTES = 32;
/** Largest secret sealed: the secrets kept are short (a webhook secret is 50 characters). */
export const MAX_SECRET_BYTES = 4096;

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Any versioned stored form (`v<n>.`): what is not one is not a sealed secret at all. */
const VERSIONED = /^v[0-9]+\./;
const STORED_V1 = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)$/;
/** Longest stored form of a MAX_SECRET_BYTES secret, with room for the header. */
const MAX_STORED_LENGTH = 64 + Math.ceil(((MAX_SECRET_BYTES + TAG_BYTES) * 4) / 3);

export interface SecretKey {
  id: string;
  /** 32 bytes of key material. */
  key: Uint8Array;
}

/** Whether `stored` is in a sealed form (of any version); anything else was stored as plain text. */
export const isSealedSecret = (stored: string): boolean => VERSIONED.test(stored);

/** The key id a v1 sealed secret names, or undefined when `stored` is not one. */
export function sealedSecretKeyId(stored: string): string | undefined {
  return STORED_V1.exec(stored)?.[1];
}

/** Seals with the first of its keys and opens with any of them. Holds the key material out of sight of JSON and util.inspect. */
export class SecretBox {
  readonly #keys: ReadonlyMap<string, Buffer>;
  /** The key that seals: the first one configured. */
  readonly currentKeyId: string;
  /** Every key id, the current one first. */
  readonly keyIds: readonly string[];

  constructor(keys: readonly SecretKey[]) {
    if (keys.length === 0) throw new RangeError('a secret box needs at least one key');
    const map = new Map<string, Buffer>();
    for (const { id, key } of keys) {
      if (!SECRET_KEY_ID.test(id)) throw new RangeError(`key id ${JSON.stringify(id)} must be 1-32 letters, digits, dashes or underscores`);
      if (key.length !== SECRET_KEY_BYTES) throw new RangeError(`key ${id} has ${key.length} bytes; it must have ${SECRET_KEY_BYTES}`);
      if (map.has(id)) throw new RangeError(`key id ${id} is given twice`);
      map.set(id, Buffer.from(key));
    }
    this.#keys = map;
    this.keyIds = [...map.keys()];
    this.currentKeyId = this.keyIds[0]!;
  }

  /** Encrypts `secret` under the current key, bound to `context`, with a fresh random IV. */
  seal(secret: string, context: string): string {
    const plaintext = Buffer.from(secret, 'utf8');
    if (plaintext.length > MAX_SECRET_BYTES) throw new RangeError(`a sealed secret holds at most ${MAX_SECRET_BYTES} bytes`);
    const keyId = this.currentKeyId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(keyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(keyId, context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, keyId, iv.toString('base64url'), sealed.toString('base64url')].join('.');
  }

  /** Decrypts a sealed secret stored for `context`; a SecretBoxError names why it cannot. */
  open(stored: string, context: string): string {
    if (stored.length > MAX_STORED_LENGTH) throw malformed(`it is ${stored.length} characters long, more than a sealed secret can be`);
    const match = STORED_V1.exec(stored);
    if (!match)
      throw malformed(
        isSealedSecret(stored)
          ? `version ${stored.slice(0, stored.indexOf('.'))} or its layout is not one this service reads`
          : 'it is not in the sealed form v1.<keyId>.<iv>.<ciphertext>',
      );
    const [, keyId, ivText, sealedText] = match as unknown as [string, string, string, string];
    const key = this.#keys.get(keyId);
    if (!key) {
      throw new SecretBoxError(
        'SECRET_ENCRYPTION_KEY_UNKNOWN',
        `the secret is sealed under key ${keyId}, which SECRET_ENCRYPTION_KEYS does not list (it lists ${this.keyIds.join(', ')})`,
      );
    }
    const sealed = canonicalBase64url(sealedText);
    if (!sealed || sealed.length < TAG_BYTES) throw malformed('its ciphertext is not canonical base64url of at least 16 bytes');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId, context));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(
        'SECRET_DECRYPTION_FAILED',
        `the secret sealed under key ${keyId} does not authenticate: it was altered, copied from another row, or key ${keyId} is not the key that sealed it`,
      );
    }
  }
}

/** Opens `stored` when it is sealed; a value stored before secrets were sealed is returned as it is. */
export function openStoredSecret(box: SecretBox | undefined, stored: string, context: string): string {
  if (!isSealedSecret(stored)) return stored;
  if (!box)
    throw new SecretBoxError(
      'SECRET_ENCRYPTION_KEY_UNKNOWN',
      `the secret is sealed under key ${sealedSecretKeyId(stored) ?? '(unreadable)'}, but SECRET_ENCRYPTION_KEYS is not set`,
    );
  return box.open(stored, context);
}

const additionalData = (keyId: string, context: string) => Buffer.from(`${VERSION}.${keyId}.${context}`, 'utf8');

const malformed = (why: string) => new SecretBoxError('SEALED_SECRET_MALFORMED', `the stored value is not a sealed secret: ${why}`);

/** Decodes base64url only when it is the one canonical encoding of its bytes (Node's decoder accepts more). */
function canonicalBase64url(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
