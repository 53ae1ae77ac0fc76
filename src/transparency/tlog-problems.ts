import { ProblemError } from '../common/problem';

/** The errors of the transparency-log lookups. */
export const tlogProblems = {
  notFound: (what: string) => new ProblemError(404, 'TLOG_ENTRY_NOT_FOUND', 'No such transparency log entry', `the log has no entry with ${what}`),
  rekorUnavailable: (detail: string) => new ProblemError(503, 'REKOR_UNAVAILABLE', 'The transparency log is unavailable', detail),
  rekorBadResponse: (detail: string) => new ProblemError(502, 'REKOR_BAD_RESPONSE', 'The transparency log gave an unusable answer', detail),
};
