import { inspect } from 'node:util';
import { isSealedSecret, MAX_SECRET_BYTES, openStoredSecret, SecretBox, SecretBoxError, sealedSecretKeyId } from './secret-box';

/** Key 00 01 … 1f, IV 00 01 … 0b; the vectors were computed with Python's `cryptography` (AESGCM), not with this module. */
const KEY = Buffer.from('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'base64');
const IV = Buffer.from('000102030405060708090a0b', 'hex');
const CONTEXT = 'webhooks.sealed_secret:3f1c2b9e-7d4a-4e2f-9b1a-0c5d6e7f8a9b';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const VECTOR = 'v1.k2024.AAECAwQFBgcICQoL.MGqlfqa6j33GEK75ia4zNPKk00OaLg84AC6p1Ucgb4BNceKd_Lbyp8vqwYkO4ypUAf8fZVoi';
const EMPTY_VECTOR = 'v1.k2024.AAECAwQFBgcICQoL.T2NjjCaj8NP0lnPizmXrEw';

/** The IV the next seal draws, when a test fixes it; otherwise node:crypto's random bytes. */
let fixedIv: Buffer | undefined;
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, randomBytes: (size: number) => (fixedIv && size === fixedIv.length ? Buffer.from(fixedIv) : actual.randomBytes(size)) };
});

const key = (fill: number) => Buffer.alloc(32, fill);
const codeOf = (work: () => unknown): string => {
  try {
    work();
  } catch (error) {
    if (error instanceof SecretBoxError) return error.code;
    throw error;
  }
  throw new Error('expected a SecretBoxError');
};

describe('SecretBox', () => {
  const box = new SecretBox([{ id: 'k2024', key: KEY }]);

  afterEach(() => (fixedIv = undefined));

  describe('fixed vectors', () => {
    it('opens the stored form computed independently', () => {
      expect(box.open(VECTOR, CONTEXT)).toBe(SECRET);
      expect(box.open(EMPTY_VECTOR, 'ctx')).toBe('');
    });

    it('seals to exactly that stored form with that IV', () => {
      fixedIv = IV;
      expect(box.seal(SECRET, CONTEXT)).toBe(VECTOR);
    });
  });

  it('round-trips with a fresh IV each time, and names its key', () => {
    const one = box.seal(SECRET, CONTEXT);
    const two = box.seal(SECRET, CONTEXT);
    expect(one).not.toBe(two);
    expect(one).toMatch(/^v1\.k2024\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(one).not.toContain(SECRET.slice(6));
    expect(box.open(one, CONTEXT)).toBe(SECRET);
    expect(box.open(two, CONTEXT)).toBe(SECRET);
    expect(sealedSecretKeyId(one)).toBe('k2024');
    expect(isSealedSecret(one)).toBe(true);
    expect(isSealedSecret(SECRET)).toBe(false);
  });

  it('keeps unicode and the longest secret, and refuses a longer one', () => {
    expect(box.open(box.seal('clé ✓ 🔑', 'c'), 'c')).toBe('clé ✓ 🔑');
    const longest = 'x'.repeat(MAX_SECRET_BYTES);
    expect(box.open(box.seal(longest, 'c'), 'c')).toBe(longest);
    expect(() => box.seal(`${longest}x`, 'c')).toThrow(RangeError);
  });

  describe('tampering', () => {
    const flip = (text: string, index: number) => text.slice(0, index) + (text[index] === 'A' ? 'B' : 'A') + text.slice(index + 1);
    const ivStart = VECTOR.indexOf('.', 3) + 1;
    const ciphertextStart = VECTOR.lastIndexOf('.') + 1;

    it.each([
      ['a byte of the ciphertext', () => flip(VECTOR, ciphertextStart + 2)],
      ['a byte of the tag', () => flip(VECTOR, VECTOR.length - 3)],
      ['a byte of the IV', () => flip(VECTOR, ivStart + 1)],
      ['the last 16 bytes cut off', () => VECTOR.slice(0, ciphertextStart) + Buffer.from(VECTOR.slice(ciphertextStart), 'base64url').subarray(0, -16).toString('base64url')],
    ])('detects %s', (_what, altered) => {
      expect(altered()).not.toBe(VECTOR);
      expect(codeOf(() => box.open(altered(), CONTEXT))).toBe('SECRET_DECRYPTION_FAILED');
    });

    it('does not open a ciphertext copied to another row (another context)', () => {
      expect(codeOf(() => box.open(VECTOR, 'webhooks.sealed_secret:00000000-0000-4000-8000-000000000000'))).toBe('SECRET_DECRYPTION_FAILED');
    });

    it('does not open a ciphertext relabelled with another configured key id', () => {
      const both = new SecretBox([
        { id: 'k2024', key: KEY },
        { id: 'other', key: KEY },
      ]);
      expect(codeOf(() => both.open(VECTOR.replace('.k2024.', '.other.'), CONTEXT))).toBe('SECRET_DECRYPTION_FAILED');
    });

    it('does not open with other key material under the same id', () => {
      const wrong = new SecretBox([{ id: 'k2024', key: key(9) }]);
      const error = (() => {
        try {
          wrong.open(VECTOR, CONTEXT);
        } catch (e) {
          return e as SecretBoxError;
        }
      })();
      expect(error).toMatchObject({ code: 'SECRET_DECRYPTION_FAILED', transient: false });
      expect(error!.message).toContain('k2024');
    });
  });

  it('names a key id it does not hold', () => {
    const other = new SecretBox([{ id: 'k2025', key: key(2) }]);
    let error: SecretBoxError | undefined;
    try {
      other.open(VECTOR, CONTEXT);
    } catch (e) {
      error = e as SecretBoxError;
    }
    expect(error).toBeInstanceOf(SecretBoxError);
    expect(error!.code).toBe('SECRET_ENCRYPTION_KEY_UNKNOWN');
    expect(error!.message).toBe('the secret is sealed under key k2024, which SECRET_ENCRYPTION_KEYS does not list (it lists k2025)');
  });

  it.each([
    ['plain text', SECRET],
    ['another version', 'v2.k2024.AAECAwQFBgcICQoL.T2NjjCaj8NP0lnPizmXrEw'],
    ['a short IV', 'v1.k2024.AAECAwQFBgcICQ.T2NjjCaj8NP0lnPizmXrEw'],
    ['a ciphertext shorter than a tag', 'v1.k2024.AAECAwQFBgcICQoL.T2NjjCaj8NP0lnPi'],
    ['padding', `${EMPTY_VECTOR}==`],
    ['standard base64 characters', 'v1.k2024.AAECAwQFBgcICQoL.T2NjjCaj8NP0lnPizmXr+w'],
    ['non-canonical base64url', EMPTY_VECTOR.slice(0, -1) + 'x'],
    ['an overlong value', `v1.k2024.AAECAwQFBgcICQoL.${'A'.repeat(8000)}`],
  ])('refuses %s as malformed', (_what, stored) => {
    expect(codeOf(() => box.open(stored, 'ctx'))).toBe('SEALED_SECRET_MALFORMED');
  });

  describe('rotation', () => {
    it('seals with the first key and opens with every listed key', () => {
      const rotated = new SecretBox([
        { id: 'k2025', key: key(2) },
        { id: 'k2024', key: KEY },
      ]);
      expect(rotated.currentKeyId).toBe('k2025');
      expect(rotated.keyIds).toEqual(['k2025', 'k2024']);
      expect(rotated.open(VECTOR, CONTEXT)).toBe(SECRET);
      const resealed = rotated.seal(SECRET, CONTEXT);
      expect(sealedSecretKeyId(resealed)).toBe('k2025');
      // Once the old key is gone, what it sealed no longer opens; what the new one sealed does.
      const withoutOld = new SecretBox([{ id: 'k2025', key: key(2) }]);
      expect(withoutOld.open(resealed, CONTEXT)).toBe(SECRET);
      expect(codeOf(() => withoutOld.open(VECTOR, CONTEXT))).toBe('SECRET_ENCRYPTION_KEY_UNKNOWN');
    });
  });

  it('refuses bad keys when built', () => {
    expect(() => new SecretBox([])).toThrow(/at least one key/);
    expect(() => new SecretBox([{ id: 'a.b', key: key(1) }])).toThrow(/key id "a.b"/);
    expect(() => new SecretBox([{ id: 'short', key: Buffer.alloc(16) }])).toThrow(/16 bytes/);
    expect(
      () =>
        new SecretBox([
          { id: 'same', key: key(1) },
          { id: 'same', key: key(2) },
        ]),
    ).toThrow(/twice/);
  });

  it('shows no key material to JSON or util.inspect', () => {
    const text = JSON.stringify(box) + inspect(box, { depth: 5, showHidden: true });
    expect(text).toContain('k2024');
    expect(text).not.toContain(KEY.toString('base64'));
    expect(text).not.toContain(KEY.toString('hex'));
    expect(text).not.toMatch(/<Buffer/);
  });
});

describe('openStoredSecret', () => {
  const box = new SecretBox([{ id: 'k2024', key: KEY }]);

  it('opens sealed values and passes plain text stored before sealing as it is', () => {
    expect(openStoredSecret(box, VECTOR, CONTEXT)).toBe(SECRET);
    expect(openStoredSecret(box, SECRET, CONTEXT)).toBe(SECRET);
    expect(openStoredSecret(undefined, SECRET, CONTEXT)).toBe(SECRET);
  });

  it('says no key is configured for a sealed value', () => {
    expect(() => openStoredSecret(undefined, VECTOR, CONTEXT)).toThrow(
      expect.objectContaining({ code: 'SECRET_ENCRYPTION_KEY_UNKNOWN', message: expect.stringContaining('k2024') }),
    );
  });
});
