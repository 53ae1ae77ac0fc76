/** An RFC 3339 date-time, checked field by field, in a form PostgreSQL reads to the microsecond. */
export interface Rfc3339Time {
  /** `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with upper-case `T` and `Z`. */
  text: string;
  /** Milliseconds since the epoch (the fraction beyond milliseconds dropped). */
  epochMs: number;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses an RFC 3339 date-time, refusing what `Date.parse` would silently roll over (February 30th,
 * hour 24) and leap seconds. Undefined when the text is not one.
 */
export function parseRfc3339(value: string): Rfc3339Time | undefined {
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  if (match[8] !== 'Z' && match[8] !== 'z' && (Number(match[10]) > 23 || Number(match[11]) > 59)) return undefined;
  const zone = match[8] === 'Z' || match[8] === 'z' ? 'Z' : `${match[9]}${match[10]}:${match[11]}`;
  const text = `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${match[6]}${match[7] ?? ''}${zone}`;
  return { text, epochMs: Date.parse(text) };
}
