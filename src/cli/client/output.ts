import { ExitCode } from './exit-codes';
import type { CommandContext } from './context';
import { isFinished, progressLine, type JobView } from './job-view';

/** Writes text lines to stdout, unless the output is JSON. */
export function say(context: CommandContext, ...lines: string[]): void {
  if (context.settings.output === 'text') for (const line of lines) context.stdout.write(`${line}\n`);
}

export function printJson(context: CommandContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * The progress of a job on stderr: on a terminal one line rewritten in place, otherwise one line per
 * change (pipelines' logs). Nothing with --output json, whose stdout carries the final JSON only.
 */
export function jobProgress(context: CommandContext): (job: JobView) => void {
  if (context.settings.output === 'json') return () => undefined;
  const tty = context.stderr.isTTY === true;
  return (job) => {
    const line = progressLine(job);
    if (!tty) context.stderr.write(`${line}\n`);
    else context.stderr.write(`\r\x1b[2K${line}${isFinished(job) ? '\n' : ''}`);
  };
}

const row = (label: string, value: string) => `${label.padEnd(11)}${value}`;

/** The job's outcome: what was pushed (reference, digests) and signed (log indices), or why it failed. Returns the exit status. */
export function printJob(context: CommandContext, job: JobView): number {
  const status = job.state === 'failed' ? ExitCode.Failed : ExitCode.Done;
  if (context.settings.output === 'json') {
    printJson(context, job);
    return status;
  }
  const result = job.result;
  const lines = [row('job', `${job.id} ${job.type} ${job.state}`)];
  if (result?.reference) lines.push(row('reference', result.reference));
  if (result?.tag) lines.push(row('tag', result.tag));
  if (result?.manifestDigest) lines.push(row('manifest', result.manifestDigest));
  if (result?.wasmDigest) lines.push(row('wasm', result.wasmDigest));
  for (const signature of result?.signatures ?? []) {
    lines.push(row('signature', `${signature.format} log index ${signature.logIndex ?? '-'}${signature.entryUuid ? ` uuid ${signature.entryUuid}` : ''}`));
  }
  if (result?.provenance?.logIndex !== undefined && result.provenance.logIndex !== null) lines.push(row('provenance', `log index ${result.provenance.logIndex}`));
  if (result?.verification) lines.push(row('verified', String(result.verification.verified)));
  if (job.error) lines.push(row('error', `${job.error.code}${job.error.step ? ` (step ${job.error.step})` : ''}: ${job.error.message}`));
  say(context, ...lines);
  return status;
}

export interface VerificationView {
  verified: boolean;
  reference: string;
  digest: string;
  signatures: { format: string; verified: boolean; identity: string | null; issuer: string | null; logIndex: number | null; error: { code: string; message: string } | null }[];
  provenance: { verified: boolean; logIndex?: number | null; error?: { code: string; message: string } | null } | null;
  error: { code: string; message: string } | null;
  fromCache?: boolean;
}

/** A verification answer: the verdict, the digest it is about, each signature with its log index. */
export function printVerification(context: CommandContext, verification: VerificationView): void {
  if (context.settings.output === 'json') return printJson(context, verification);
  const lines = [row('verified', String(verification.verified)), row('reference', verification.reference), row('digest', verification.digest)];
  for (const signature of verification.signatures) {
    const outcome = signature.verified ? 'verified' : `not verified (${signature.error?.code ?? 'no reason given'})`;
    lines.push(
      row('signature', `${signature.format} ${outcome}, log index ${signature.logIndex ?? '-'}, identity ${signature.identity ?? '-'}, issuer ${signature.issuer ?? '-'}`),
    );
  }
  if (verification.provenance)
    lines.push(
      row(
        'provenance',
        `${verification.provenance.verified ? 'verified' : 'not verified'}${verification.provenance.logIndex != null ? `, log index ${verification.provenance.logIndex}` : ''}`,
      ),
    );
  if (verification.error) lines.push(row('error', `${verification.error.code}: ${verification.error.message}`));
  say(context, ...lines);
}
