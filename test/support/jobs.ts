import { eventually, type ServiceProcess } from './service-process';

export interface JobView {
  id: string;
  type: string;
  state: string;
  steps: { name: string; state: string; attempts: number; worker: string | null }[];
  result: Record<string, any> | null;
  error: { code: string; message: string; step?: string } | null;
}

/** Waits until the job has finished (succeeded or failed) and returns it. */
export function finishedJob(service: ServiceProcess, id: string, timeoutMs = 60_000): Promise<JobView> {
  return eventually(
    async () => {
      const job = (await (await service.fetch(`/v1/jobs/${id}`)).json()) as JobView;
      return job.state === 'succeeded' || job.state === 'failed' ? job : undefined;
    },
    timeoutMs,
    `job ${id} to finish`,
  );
}
