import { readFile } from 'node:fs/promises';
import { keyValues, type CommandSpec } from '../command-line';
import type { CommandContext } from '../context';
import { UsageError } from '../exit-codes';
import type { JobView } from '../job-view';
import { followJob, idempotencyHeaders, JOB_OPTIONS, JOB_OPTIONS_HELP } from './job-submission';

/** `publish`: POST /v1/artifacts with the .wasm as the body; the service pushes, signs and verifies it. */
export const publishCommand: CommandSpec<CommandContext> = {
  words: ['publish'],
  usage: 'publish FILE.wasm --repository REPO [--tag TAG] [-a key=value]…',
  summary: 'push a component to a registry (oci-wasm layout), sign it keyless and verify it; waits for the job',
  optionsHelp: `  --repository REPO       where to push: host[:port]/path
  --tag TAG               a tag for the pushed manifest
  -a, --annotation K=V    a manifest annotation (repeat for more)
${JOB_OPTIONS_HELP}`,
  options: { repository: { type: 'string' }, tag: { type: 'string' }, annotation: { type: 'string', short: 'a', multiple: true }, ...JOB_OPTIONS },
  positionals: ['FILE.wasm'],
  check: (values) => {
    if (!values.repository) throw new UsageError('publish needs --repository');
    keyValues(values, 'annotation');
  },
  async run(context, { values, positionals }) {
    const file = positionals[0]!;
    const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${error.code ?? error.message}`);
    });
    const query = new URLSearchParams({ repository: values.repository as string });
    if (values.tag) query.set('tag', values.tag as string);
    for (const [key, value] of Object.entries(keyValues(values, 'annotation'))) query.append(`annotation.${key}`, value);
    const queued = await context.client.json<JobView>('POST', 'v1/artifacts', { query, body: bytes, contentType: 'application/wasm', headers: idempotencyHeaders(values) });
    return followJob(context, values, queued);
  },
};
