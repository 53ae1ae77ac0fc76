import { COMMANDS } from './commands/command-table';
import { parseCommandLine, type CommandSpec, type Invocation } from './command-line';
import { verificationRequest } from './commands/verify';
import { UsageError } from './exit-codes';

const table = COMMANDS as readonly CommandSpec<never>[];
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(argv, table, env);
const invocation = (argv: string[], env: NodeJS.ProcessEnv = {}): Invocation => {
  const parsed = parse(argv, env);
  if (parsed.kind !== 'command') throw new Error(`help, not a command: ${argv.join(' ')}`);
  return parsed.invocation;
};
const usageError = (argv: string[]) => {
  try {
    parse(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};
const policy = ['--certificate-identity', 'https://id', '--certificate-oidc-issuer', 'https://issuer'];

describe('parseCommandLine', () => {
  it('finds two-word commands, with options before, between and after the words', () => {
    expect(invocation(['jobs', 'get', 'j1']).spec.words).toEqual(['jobs', 'get']);
    const watched = invocation(['--url', 'http://svc:1', 'jobs', '--output', 'json', 'watch', 'j1']);
    expect(watched.spec.words).toEqual(['jobs', 'watch']);
    expect(watched.positionals).toEqual(['j1']);
    expect(watched.settings).toMatchObject({ url: 'http://svc:1', output: 'json' });
  });

  it('takes the URL from --url, else WASM_SIGNER_URL, else the local default; timeout and audience too', () => {
    expect(invocation(['jobs', 'get', 'x']).settings).toEqual({ url: 'http://127.0.0.1:3000', output: 'text', timeoutMs: 60_000, audience: 'wasm-signer' });
    expect(invocation(['jobs', 'get', 'x'], { WASM_SIGNER_URL: 'https://signer.example/', WASM_SIGNER_AUDIENCE: 'aud' }).settings).toMatchObject({
      url: 'https://signer.example',
      audience: 'aud',
    });
    expect(invocation(['jobs', 'get', 'x', '--url', 'http://a', '--timeout', '5'], { WASM_SIGNER_URL: 'http://b' }).settings).toMatchObject({ url: 'http://a', timeoutMs: 5000 });
  });

  it('reads publish: file, repository, tag, repeated -a annotations, --no-wait', () => {
    const publish = invocation(['publish', 'a.wasm', '--repository', 'r.example/x', '--tag', 'v1', '-a', 'k=v', '-a', 'k2=a=b', '--no-wait']);
    expect(publish.positionals).toEqual(['a.wasm']);
    expect(publish.values).toMatchObject({ repository: 'r.example/x', tag: 'v1', annotation: ['k=v', 'k2=a=b'], wait: false });
  });

  it('passes what follows -- to run, and only to run', () => {
    const run = invocation(['run', 'r/x@sha256:1', ...policy, '--', '--flag', 'arg']);
    expect(run.positionals).toEqual(['r/x@sha256:1']);
    expect(run.passThrough).toEqual(['--flag', 'arg']);
    expect(usageError(['verify', 'r/x:v1', ...policy, '--', 'x'])).toContain('takes no arguments after --');
  });

  it('turns cosign-style flags into the service policy: exact or regexp, annotations, trust root, max age', () => {
    expect(verificationRequest('r/x:v1', invocation(['verify', 'r/x:v1', ...policy]).values)).toEqual({
      reference: 'r/x:v1',
      policy: { certificateIdentity: 'https://id', certificateOidcIssuer: 'https://issuer' },
    });
    const values = invocation([
      'verify',
      'r/x:v1',
      '--certificate-identity-regexp',
      'https://.*',
      '--certificate-oidc-issuer-regexp',
      '.*',
      '-a',
      'a=b',
      '--trust-root',
      'public-good',
      '--max-age',
      '0',
    ]).values;
    expect(verificationRequest('r/x:v1', values)).toEqual({
      reference: 'r/x:v1',
      policy: { certificateIdentityRegExp: 'https://.*', certificateOidcIssuerRegExp: '.*', annotations: { a: 'b' } },
      trustRoot: 'public-good',
      maxAge: 0,
    });
  });

  it.each([
    [['verify', 'r/x:v1', '--certificate-identity', 'i'], '--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required'],
    [['verify', 'r/x:v1', ...policy, '--certificate-identity-regexp', '.*'], 'exclude each other'],
    [['verify', ...policy], 'verify needs REFERENCE'],
    [['verify', 'a', 'b', ...policy], 'unexpected argument "b"'],
    [['publish', 'a.wasm'], 'publish needs --repository'],
    [['publish', 'a.wasm', '--repository', 'r/x', '-a', 'novalue'], '--annotation takes key=value'],
    [['publish', 'a.wasm', '--repository', 'r/x', '--bogus'], "Unknown option '--bogus'"],
    [['build', 'dir', '--repository', 'r/x'], 'build needs --builder'],
    [['tlog', 'get'], 'needs --log-index or --uuid'],
    [['tlog', 'get', '--log-index', '1', '--uuid', 'u'], 'needs --log-index or --uuid'],
    [['tlog', 'get', '--log-index', '-1'], ''],
    [['tlog', 'get', '--log-index', 'x'], 'takes a whole number'],
    [['jobs'], 'jobs needs one of: get, watch'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['jobs', 'get', 'x', '--output', 'yaml'], '--output must be text or json'],
    [['jobs', 'get', 'x', '--url', 'ftp://x'], '--url must be http:// or https://'],
    [['jobs', 'get', 'x', '--timeout', '0'], '--timeout takes a whole number of seconds'],
    [['run', 'r/x:v1', ...policy, '--max-bytes', '1e9'], '--max-bytes takes a whole number'],
  ])('refuses %j as bad usage', (argv, message) => {
    expect(usageError(argv)).toContain(message);
  });

  it('answers help for no arguments, --help, and COMMAND --help', () => {
    for (const argv of [[], ['--help'], ['help'], ['-h']]) {
      const parsed = parse(argv);
      expect(parsed.kind).toBe('help');
      if (parsed.kind === 'help') for (const spec of COMMANDS) expect(parsed.text).toContain(spec.usage);
    }
    const publishHelp = parse(['publish', '--help']);
    expect(publishHelp).toMatchObject({ kind: 'help', text: expect.stringContaining('usage: wasm-signer publish FILE.wasm') });
    expect(publishHelp).toMatchObject({ text: expect.stringContaining('--annotation') });
  });
});
