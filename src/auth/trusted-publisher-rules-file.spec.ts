import { mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_RULES_FILE_BYTES, type RulesFileChange, TrustedPublisherRulesFile } from './trusted-publisher-rules-file';
import { TrustedPublisherRulesError } from './trusted-publisher-rules';

const rule = (name: string, repository = 'my-org/app') => ({
  name,
  issuer: 'https://token.actions.githubusercontent.com',
  claims: { repository },
  scopes: ['artifacts:write'],
  repositories: [`ghcr.io/${repository}`],
});
const rulesText = (...names: string[]) => JSON.stringify({ rules: names.map((name) => rule(name)) });

describe('TrustedPublisherRulesFile', () => {
  let dir: string;
  let path: string;
  let changes: RulesFileChange[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rules-file-spec-'));
    path = join(dir, 'trusted-publishers.json');
    changes = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const open = () => TrustedPublisherRulesFile.open(path, 'wasm-signer', (change) => changes.push(change));
  const names = async (file: TrustedPublisherRulesFile) => (await file.current()).rules.map((r) => r.name);
  /** Writes the file again with a later modification time (some file systems keep whole seconds). */
  const rewrite = (text: string) => {
    const before = statSync(path).mtimeMs;
    writeFileSync(path, text);
    utimesSync(path, new Date(), new Date(before + 2_000));
  };

  it('reads and checks the file when opened', async () => {
    writeFileSync(path, rulesText('a', 'b'));
    const file = open();
    expect(await names(file)).toEqual(['a', 'b']);
    expect(file.rulesInForce?.rules).toHaveLength(2);
    expect(changes).toEqual([]);
  });

  it('refuses to open a file that is missing, too large or not valid, naming the problem', () => {
    expect(() => open()).toThrow(new TrustedPublisherRulesError([`cannot read ${path}: ENOENT`]));
    writeFileSync(path, ' '.repeat(MAX_RULES_FILE_BYTES + 1));
    expect(() => open()).toThrow(`larger than ${MAX_RULES_FILE_BYTES} bytes`);
    writeFileSync(path, JSON.stringify({ rules: [{ ...rule('a'), scopes: ['nope'] }] }));
    expect(() => open()).toThrow('rules[0] ("a"): scopes[0]: each must be one of');
  });

  it('uses a changed rule from the next call on', async () => {
    writeFileSync(path, rulesText('a'));
    const file = open();
    expect(await names(file)).toEqual(['a']);
    rewrite(rulesText('a', 'b'));
    expect(await names(file)).toEqual(['a', 'b']);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.rules?.rules.map((r) => r.name)).toEqual(['a', 'b']);
  });

  it('sees a file replaced by a rename (as Kubernetes swaps a ConfigMap), even of the same size and time', async () => {
    writeFileSync(path, rulesText('a'));
    const file = open();
    const { mtime } = statSync(path);
    const next = join(dir, 'next.json');
    writeFileSync(next, rulesText('z'));
    utimesSync(next, mtime, mtime);
    renameSync(next, path);
    expect(await names(file)).toEqual(['z']);
  });

  it('does not read an unchanged file again', async () => {
    writeFileSync(path, rulesText('a'));
    const file = open();
    const first = await file.current();
    for (let i = 0; i < 5; i++) expect(await file.current()).toBe(first);
    expect(changes).toEqual([]);
  });

  it('reads a changed file once for concurrent calls', async () => {
    writeFileSync(path, rulesText('a'));
    const file = open();
    rewrite(rulesText('b'));
    const all = await Promise.all(Array.from({ length: 10 }, () => file.current()));
    expect(new Set(all).size).toBe(1);
    expect(changes).toHaveLength(1);
  });

  it('fails closed while a changed file cannot be used, and recovers when it is fixed', async () => {
    writeFileSync(path, rulesText('a'));
    const file = open();
    rewrite(JSON.stringify({ rules: [{ ...rule('a'), claims: {} }] }));
    await expect(file.current()).rejects.toThrow(TrustedPublisherRulesError);
    await expect(file.current()).rejects.toThrow('rules[0] ("a"): claims: must name at least one claim');
    expect(file.rulesInForce).toBeUndefined();
    expect(changes).toEqual([{ problems: [expect.stringContaining('must name at least one claim')] }]);

    rmSync(path);
    await expect(file.current()).rejects.toThrow(`cannot read ${path}: ENOENT`);

    writeFileSync(path, rulesText('c'));
    expect(await names(file)).toEqual(['c']);
    expect(changes).toHaveLength(3);
  });

  it('with no file configured, admits no issuer', async () => {
    expect((await TrustedPublisherRulesFile.none().current()).issuers.size).toBe(0);
  });
});
