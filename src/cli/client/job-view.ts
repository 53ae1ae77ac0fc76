/** The job as GET /v1/jobs/{id} answers it (the fields the command line reads). */
export interface JobView {
  id: string;
  type: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  steps: { name: string; state: string; attempts?: number }[];
  result: JobResult | null;
  error: { code: string; message: string; step?: string | null } | null;
}

export interface JobResult {
  reference?: string;
  repository?: string;
  tag?: string | null;
  manifestDigest?: string;
  wasmDigest?: string;
  signatures?: { format: string; logIndex: number | null; entryUuid?: string | null; identity?: string | null; issuer?: string | null }[];
  verification?: { verified: boolean } | null;
  provenance?: { logIndex?: number | null } | null;
}

export const isFinished = (job: JobView) => job.state === 'succeeded' || job.state === 'failed';

/** One line: the job's state and each step's, e.g. `publish running: push succeeded, sign running, verify queued`. */
export function progressLine(job: JobView): string {
  return `${job.type} ${job.id.slice(0, 8)} ${job.state}: ${job.steps.map((step) => `${step.name} ${step.state}`).join(', ')}`;
}
