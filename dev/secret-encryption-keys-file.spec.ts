import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.schema';
import { ensureSecretEncryptionKeysFile } from './secret-encryption-keys-file';

describe('ensureSecretEncryptionKeysFile', () => {
  it('makes a key the service accepts once, owner-readable only, and keeps it on later runs', () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'dev-keys-')), 'data');
    const first = ensureSecretEncryptionKeysFile(dataDir);
    expect(first).toEqual({ file: join(dataDir, 'secret-encryption-keys'), created: true });
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    const content = readFileSync(first.file, 'utf8');
    const box = loadConfig({ SECRET_ENCRYPTION_KEYS_FILE: first.file }).secretBox!;
    expect(box.keyIds).toEqual(['dev-1']);

    const sealed = box.seal('whsec_dev', 'context');
    expect(ensureSecretEncryptionKeysFile(dataDir)).toEqual({ file: first.file, created: false });
    expect(readFileSync(first.file, 'utf8')).toBe(content);
    expect(loadConfig({ SECRET_ENCRYPTION_KEYS_FILE: first.file }).secretBox!.open(sealed, 'context')).toBe('whsec_dev');
  });
});
