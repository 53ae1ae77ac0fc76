import type { GlobalSettings } from './command-line';
import type { CommandContext } from './context';
import type { JobView } from './job-view';
import { jobProgress, printJob } from './output';

const sink = (isTTY: boolean) => {
  const stream = { text: '', isTTY, write: (chunk: string) => ((stream.text += chunk), true) };
  return stream;
};
const contextFor = (isTTY: boolean, output: GlobalSettings['output'] = 'text') => {
  const stdout = sink(false);
  const stderr = sink(isTTY);
  const context = { stdout, stderr, settings: { url: 'http://x', output, timeoutMs: 1, audience: 'a' } } as unknown as CommandContext;
  return { context, stdout, stderr };
};
const job = (state: JobView['state'], steps: [string, string][]): JobView => ({
  id: '0123456789abcdef-0000-0000-0000-000000000000',
  type: 'publish',
  state,
  steps: steps.map(([name, s]) => ({ name, state: s })),
  result: null,
  error: null,
});
const running = job('running', [
  ['push', 'succeeded'],
  ['sign', 'running'],
]);
const done = job('succeeded', [
  ['push', 'succeeded'],
  ['sign', 'succeeded'],
]);

describe('job progress', () => {
  it('on a terminal: one line, rewritten in place, ended when the job is', () => {
    const { context, stderr } = contextFor(true);
    const progress = jobProgress(context);
    progress(running);
    progress(done);
    expect(stderr.text).toBe('\r\x1b[2Kpublish 01234567 running: push succeeded, sign running\r\x1b[2Kpublish 01234567 succeeded: push succeeded, sign succeeded\n');
  });

  it('elsewhere: one plain line per change; with --output json: nothing', () => {
    const plain = contextFor(false);
    jobProgress(plain.context)(running);
    expect(plain.stderr.text).toBe('publish 01234567 running: push succeeded, sign running\n');
    const json = contextFor(true, 'json');
    jobProgress(json.context)(running);
    expect(json.stderr.text).toBe('');
  });

  it('a failed job prints its error and exits 1; --output json prints only the job', () => {
    const failed = { ...job('failed', [['sign', 'failed']]), error: { code: 'FULCIO_UNAVAILABLE', message: 'down', step: 'sign' } };
    const text = contextFor(false);
    expect(printJob(text.context, failed)).toBe(1);
    expect(text.stdout.text).toContain('error      FULCIO_UNAVAILABLE (step sign): down');
    const json = contextFor(false, 'json');
    expect(printJob(json.context, done)).toBe(0);
    expect(JSON.parse(json.stdout.text)).toEqual(done);
  });
});
