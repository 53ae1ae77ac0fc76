import { verifySignedCheckpoint } from './checkpoint';
import { leafHash, verifyInclusionProof } from './inclusion-proof';
import { verifySignedEntryTimestamp } from './signed-entry-timestamp';
import type { TlogEntry } from './tlog-entry';
import type { TransparencyLogKey } from './transparency-log-key';

/** What was checked of a log entry against the trust root. */
export interface TlogEntryVerification {
  /** The SET verifies with the trusted key of the entry's log, valid at its integrated time. */
  setVerified: boolean;
  /**
   * The audit path leads from sha256(0x00 ‖ body) to the proof's root hash, and (when the proof carries
   * a checkpoint) that root hash and tree size are the ones the log signed. Null: no inclusion proof.
   */
  inclusionProofVerified: boolean | null;
  /** The checkpoint is signed by a trusted log key. Null: no checkpoint. */
  checkpointVerified: boolean | null;
  /** The UUID's leaf hash (its last 64 hex digits) is sha256(0x00 ‖ body). */
  leafHashMatchesUuid: boolean;
  /** Why a check failed, one line per failure. */
  failures: string[];
}

/**
 * Verifies a log entry's SET, inclusion proof and checkpoint with the trusted log keys. `keys` is an
 * Error when the trust root could not be loaded: every check that needs a key then fails with it.
 */
export function verifyTlogEntry(entry: TlogEntry, keys: readonly TransparencyLogKey[] | Error): TlogEntryVerification {
  const failures: string[] = [];
  const trusted = keys instanceof Error ? [] : keys;
  if (keys instanceof Error) failures.push(`trust root unavailable: ${keys.message}`);

  const leaf = leafHash(entry.body);
  const leafHashMatchesUuid = entry.uuid.toLowerCase().endsWith(leaf.toString('hex'));
  if (!leafHashMatchesUuid) failures.push(`uuid: its leaf hash is not sha256(0x00 ‖ body) = ${leaf.toString('hex')}`);

  let setVerified = false;
  if (!entry.signedEntryTimestamp) failures.push('set: the entry has no signed entry timestamp');
  else if (!(keys instanceof Error)) {
    const result = verifySignedEntryTimestamp(entry, entry.signedEntryTimestamp, trusted);
    setVerified = result.verified;
    if (!result.verified) failures.push(`set: ${result.reason}`);
  }

  const proof = entry.inclusionProof;
  let inclusionProofVerified: boolean | null = null;
  let checkpointVerified: boolean | null = null;
  if (proof) {
    const path = verifyInclusionProof({ leafIndex: proof.logIndex, treeSize: proof.treeSize, leafHash: leaf, hashes: proof.hashes, rootHash: proof.rootHash });
    inclusionProofVerified = path.verified;
    if (!path.verified) failures.push(`inclusion proof: ${path.reason}`);
    if (proof.checkpoint !== null) {
      const checkpoint = verifySignedCheckpoint(proof.checkpoint, trusted);
      checkpointVerified = checkpoint.verified;
      if (!checkpoint.verified) {
        if (!(keys instanceof Error)) failures.push(`checkpoint: ${checkpoint.reason}`);
        inclusionProofVerified = false;
      } else if (!checkpoint.checkpoint.rootHash.equals(proof.rootHash) || checkpoint.checkpoint.treeSize !== proof.treeSize) {
        failures.push('inclusion proof: its root hash and tree size are not the ones the checkpoint signs');
        inclusionProofVerified = false;
      }
    }
  }
  return { setVerified, inclusionProofVerified, checkpointVerified, leafHashMatchesUuid, failures };
}
