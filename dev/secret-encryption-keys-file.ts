import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The file under the data directory that holds the development key-encryption key. */
export const SECRET_ENCRYPTION_KEYS_FILE_NAME = 'secret-encryption-keys';

/**
 * For `npm run dev` (never production): the SECRET_ENCRYPTION_KEYS file under the data directory, made
 * once with a fresh key (readable by its owner only) and kept afterwards. Development data persists
 * across runs, so a new key each run would leave the secrets sealed before unreadable.
 */
export function ensureSecretEncryptionKeysFile(dataDir: string): { file: string; created: boolean } {
  const directory = resolve(dataDir);
  mkdirSync(directory, { recursive: true });
  const file = join(directory, SECRET_ENCRYPTION_KEYS_FILE_NAME);
  try {
    // `wx`: only when there is none yet, so two runs starting at once cannot replace each other's key.
    writeFileSync(file, `dev-1:${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
    return { file, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { file, created: false };
    throw error;
  }
}
