import { type TransparencyLogKey, verifyLogSignature } from './transparency-log-key';

/** The body of a log checkpoint (transparency-dev signed-note format). */
export interface Checkpoint {
  origin: string;
  treeSize: bigint;
  rootHash: Buffer;
}

export interface CheckpointSignature {
  name: string;
  /** First 4 bytes of the signing key's log ID. */
  keyHint: Buffer;
  signature: Buffer;
}

const SEPARATOR = '\n\n';
const SIGNATURE_LINE = /^\u2014 (\S+) (\S+)$/;

/**
 * Splits a signed note into the signed text (up to and including the newline before the blank line),
 * its checkpoint and its signature lines (`— <name> <base64(key hint ‖ signature)>`).
 */
export function parseSignedCheckpoint(envelope: string): { note: string; checkpoint: Checkpoint; signatures: CheckpointSignature[] } {
  const split = envelope.indexOf(SEPARATOR);
  if (split < 0) throw new Error('the checkpoint has no blank line between note and signatures');
  const note = envelope.slice(0, split + 1);
  const lines = note.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('the checkpoint note has fewer than three lines');
  if (!/^\d+$/.test(lines[1]!)) throw new Error(`the checkpoint tree size "${lines[1]}" is not a number`);
  const rootHash = Buffer.from(lines[2]!, 'base64');
  const signatures: CheckpointSignature[] = [];
  for (const line of envelope.slice(split + SEPARATOR.length).split('\n')) {
    const match = SIGNATURE_LINE.exec(line);
    if (!match) continue;
    const bytes = Buffer.from(match[2]!, 'base64');
    if (bytes.length < 5) continue;
    signatures.push({ name: match[1]!, keyHint: bytes.subarray(0, 4), signature: bytes.subarray(4) });
  }
  return { note, checkpoint: { origin: lines[0]!, treeSize: BigInt(lines[1]!), rootHash }, signatures };
}

/**
 * Verifies a signed checkpoint: one of its signatures must be by a trusted log key whose log ID starts
 * with the key hint and whose base URL contains the signer name. Returns the checkpoint when it does.
 */
export function verifySignedCheckpoint(envelope: string, keys: readonly TransparencyLogKey[]): { verified: true; checkpoint: Checkpoint } | { verified: false; reason: string } {
  let parsed: ReturnType<typeof parseSignedCheckpoint>;
  try {
    parsed = parseSignedCheckpoint(envelope);
  } catch (error) {
    return { verified: false, reason: (error as Error).message };
  }
  const data = Buffer.from(parsed.note, 'utf8');
  const signed = parsed.signatures.some((s) =>
    keys.some((k) => k.logID.subarray(0, 4).equals(s.keyHint) && k.baseURL.includes(s.name) && verifyLogSignature(k.publicKey, data, s.signature)),
  );
  if (!signed) return { verified: false, reason: 'no checkpoint signature verifies with a trusted log key' };
  return { verified: true, checkpoint: parsed.checkpoint };
}
