import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createFileExclusive, readFileIfExists } from '../../src/common/atomic-file';

/** Bytes backed by a plain ArrayBuffer (what @sigstore/core and @sigstore/mock expect). */
export type Bytes = Buffer<ArrayBuffer>;

/** An ECDSA P-256 key pair kept on disk so that trust in the stack survives restarts. */
export interface StoredKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo of the public key. */
  readonly publicKeyDer: Bytes;
  /** When the key was first created, truncated to whole seconds (see loadOrCreateKeyPair). */
  readonly createdAt: Date;
}

interface KeyFile {
  readonly kind: 'ecdsa-p256';
  readonly createdAt: string;
  readonly privateKeyPem: string;
}

/**
 * Loads the key pair stored in `file`, creating it (0600) on first use.
 *
 * `createdAt` is truncated to whole seconds: trusted_root.json uses it as the start of the key's
 * validity, and Rekor integrated times are whole seconds, so an entry logged in the same second the
 * key was made must not appear to predate the key.
 */
export async function loadOrCreateKeyPair(file: string): Promise<StoredKeyPair> {
  const existing = await readFileIfExists(file);
  if (existing) return parseKeyFile(file, existing);

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const content: KeyFile = {
    kind: 'ecdsa-p256',
    createdAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
  const created = await createFileExclusive(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  // Another process may have won the race to create the key: use whatever is on disk.
  const onDisk = created ? Buffer.from(JSON.stringify(content)) : await readFileIfExists(file);
  if (!onDisk) throw new Error(`key file ${file} vanished while it was being created`);
  return parseKeyFile(file, onDisk);
}

/** SHA-256 of a DER public key: the log ID of Rekor and CT logs. */
export function keyId(publicKeyDer: Buffer): Bytes {
  return createHash('sha256').update(publicKeyDer).digest();
}

function parseKeyFile(file: string, raw: Buffer): StoredKeyPair {
  let content: KeyFile;
  try {
    content = JSON.parse(raw.toString('utf8')) as KeyFile;
  } catch (error) {
    throw new Error(`key file ${file} is not valid JSON; delete it to start with new keys`, { cause: error });
  }
  if (content.kind !== 'ecdsa-p256' || typeof content.privateKeyPem !== 'string' || Number.isNaN(Date.parse(content.createdAt))) {
    throw new Error(`key file ${file} is not an ECDSA P-256 key written by the local stack; delete it to start with new keys`);
  }
  const privateKey = createPrivateKey(content.privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`key file ${file} does not hold an ECDSA P-256 key`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyDer: publicKey.export({ format: 'der', type: 'spki' }),
    createdAt: new Date(content.createdAt),
  };
}
