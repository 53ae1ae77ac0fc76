import { readFile, stat } from 'node:fs/promises';
import type { CommandSpec } from '../command-line';
import type { CommandContext } from '../context';
import { UsageError } from '../exit-codes';
import type { JobView } from '../job-view';
import { tarGzDirectory } from '../source-archive';
import { followJob, idempotencyHeaders, JOB_OPTIONS, JOB_OPTIONS_HELP } from './job-submission';

/** `build`: POST /v1/builds with a source archive (a directory is packed as .tar.gz first). */
export const buildCommand: CommandSpec<CommandContext> = {
  words: ['build'],
  usage: 'build DIR|ARCHIVE --builder NAME --repository REPO [--tag TAG]',
  summary: 'build a component from source on the service (componentize-js, cargo), then push, sign, attest, verify',
  optionsHelp: `  --builder NAME          componentize-js or cargo (GET /v1/builders lists them)
  --repository REPO       where to push: host[:port]/path
  --tag TAG               a tag for the pushed manifest
  --options JSON          the builder's options, as JSON text
A directory is sent as a .tar.gz of its files (without .git); an archive (.tar.gz, .tgz, .zip) as it is.
${JOB_OPTIONS_HELP}`,
  options: { builder: { type: 'string' }, repository: { type: 'string' }, tag: { type: 'string' }, options: { type: 'string' }, ...JOB_OPTIONS },
  positionals: ['DIR|ARCHIVE'],
  check: (values) => {
    if (!values.builder) throw new UsageError('build needs --builder');
    if (!values.repository) throw new UsageError('build needs --repository');
  },
  async run(context, { values, positionals }) {
    const source = positionals[0]!;
    const info = await stat(source).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${source}: ${error.code ?? error.message}`);
    });
    let body: Uint8Array;
    let contentType = 'application/gzip';
    if (info.isDirectory()) {
      body = await tarGzDirectory(source, (skipped) => context.stderr.write(`skipped ${skipped} (only regular files and directories are sent)\n`));
    } else if (/\.(tar\.gz|tgz)$/i.test(source)) {
      body = await readFile(source);
    } else if (/\.zip$/i.test(source)) {
      body = await readFile(source);
      contentType = 'application/zip';
    } else {
      throw new UsageError(`${source} is neither a directory nor a .tar.gz, .tgz or .zip archive`);
    }
    const query: Record<string, string | undefined> = {
      repository: values.repository as string,
      builder: values.builder as string,
      tag: values.tag as string | undefined,
      options: values.options as string | undefined,
    };
    const queued = await context.client.json<JobView>('POST', 'v1/builds', { query, body, contentType, headers: idempotencyHeaders(values) });
    return followJob(context, values, queued);
  },
};
