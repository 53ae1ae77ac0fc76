import { CodedError, errorCodes } from '../common/coded-error';

export const REKOR_ERROR_CODES = errorCodes('REKOR_UNREACHABLE', 'REKOR_UNAVAILABLE', 'REKOR_REJECTED');
export type RekorErrorCode = keyof typeof REKOR_ERROR_CODES;

/** Rekor could not be asked, or refused: unreachable and 5xx/429 are transient, anything else is not. */
export class RekorError extends CodedError<RekorErrorCode> {
  constructor(code: RekorErrorCode, message: string, transient: boolean, cause?: unknown) {
    super(code, message, { transient, cause });
    this.name = 'RekorError';
  }
}

/** One Rekor v1 log entry, as `GET /api/v1/log/entries…` answers it. */
export interface RekorEntry {
  uuid: string;
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification?: { inclusionProof?: Record<string, unknown>; signedEntryTimestamp?: string };
}

/** Reads entries from a Rekor v1 log by index or UUID. */
export class RekorClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 10_000,
    /** Told of each request once its answer's headers arrive (`status`), or it failed without one (null): for metrics. */
    private readonly onRequest?: (request: { method: string; status: number | null; seconds: number }) => void,
  ) {}

  getByIndex(logIndex: number, signal?: AbortSignal): Promise<RekorEntry | undefined> {
    return this.get(`/api/v1/log/entries?logIndex=${logIndex}`, signal);
  }

  getByUuid(uuid: string, signal?: AbortSignal): Promise<RekorEntry | undefined> {
    if (!/^([0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid)) return Promise.resolve(undefined);
    return this.get(`/api/v1/log/entries/${uuid}`, signal);
  }

  private async get(path: string, signal?: AbortSignal): Promise<RekorEntry | undefined> {
    let response: Response;
    const started = performance.now();
    const record = (status: number | null) => this.onRequest?.({ method: 'GET', status, seconds: (performance.now() - started) / 1000 });
    try {
      response = await fetch(new URL(path, this.baseUrl), { headers: { accept: 'application/json' }, signal: signal ?? AbortSignal.timeout(this.timeoutMs) });
      record(response.status);
    } catch (error) {
      record(null);
      throw new RekorError('REKOR_UNREACHABLE', `Rekor at ${this.baseUrl} could not be reached: ${(error as Error).message}`, true, error);
    }
    if (response.status === 404) return undefined;
    if (!response.ok) {
      const message = `Rekor at ${this.baseUrl} answered HTTP ${response.status} for ${path}`;
      throw response.status >= 500 || response.status === 429 ? new RekorError('REKOR_UNAVAILABLE', message, true) : new RekorError('REKOR_REJECTED', message, false);
    }
    const entries = (await response.json()) as Record<string, Omit<RekorEntry, 'uuid'>>;
    const [uuid, entry] = Object.entries(entries)[0] ?? [];
    return uuid && entry ? { uuid, ...entry } : undefined;
  }
}
