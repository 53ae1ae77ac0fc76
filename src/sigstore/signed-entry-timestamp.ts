import { json } from '@sigstore/core';
import { type TransparencyLogKey, verifyLogSignature } from './transparency-log-key';

/** What a Rekor v1 signed entry timestamp (SET) signs. */
export interface SignedEntryFields {
  body: Buffer;
  integratedTime: number;
  /** Hex SHA-256 of the log's public key. */
  logId: string;
  logIndex: number;
}

/**
 * The bytes a SET signs: the RFC 8785 canonical JSON of `{body, integratedTime, logID, logIndex}`
 * with the body in base64.
 */
export function signedEntryPayload(entry: SignedEntryFields): Buffer {
  return Buffer.from(json.canonicalize({ body: entry.body.toString('base64'), integratedTime: entry.integratedTime, logID: entry.logId, logIndex: entry.logIndex }), 'utf8');
}

/**
 * Checks a SET against the trusted log keys whose log ID is the entry's and that were valid at its
 * integrated time. Returns a reason when it fails.
 */
export function verifySignedEntryTimestamp(
  entry: SignedEntryFields,
  signature: Buffer,
  keys: readonly TransparencyLogKey[],
): { verified: true; key: TransparencyLogKey } | { verified: false; reason: string } {
  const integratedAt = new Date(entry.integratedTime * 1000);
  const sameLog = keys.filter((k) => k.logID.toString('hex') === entry.logId.toLowerCase());
  if (sameLog.length === 0) return { verified: false, reason: `no trusted transparency log has log ID ${entry.logId}` };
  const valid = sameLog.filter((k) => k.validFor.start <= integratedAt && integratedAt <= k.validFor.end);
  if (valid.length === 0) return { verified: false, reason: `the key of log ${entry.logId} was not valid at the integrated time ${integratedAt.toISOString()}` };
  const payload = signedEntryPayload(entry);
  const key = valid.find((k) => verifyLogSignature(k.publicKey, payload, signature));
  return key ? { verified: true, key } : { verified: false, reason: 'the signed entry timestamp does not verify with the log key' };
}
