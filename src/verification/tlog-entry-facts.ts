/** The log index and integrated time of a bundle document's (first) transparency log entry, as verdicts report them. */
export function tlogEntryFacts(bundle: unknown): { logIndex: number | null; integratedTime: string | null } {
  const entry = (bundle as { verificationMaterial?: { tlogEntries?: { logIndex?: string; integratedTime?: string }[] } })?.verificationMaterial?.tlogEntries?.[0];
  // Proto3 JSON leaves out a zero log index (the first entry of a log).
  const index = Number(entry?.logIndex ?? 0);
  const time = Number(entry?.integratedTime);
  return {
    logIndex: entry && Number.isSafeInteger(index) ? index : null,
    integratedTime: entry && Number.isFinite(time) && time > 0 ? new Date(time * 1000).toISOString() : null,
  };
}
