import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/config-error';
import { AdmissionPolicyFile, type PolicyFileChange } from './admission-policy-file';

const ROOTS = ['default'];
const rule = (pattern: string) => ({ pattern, policy: { certificateIdentity: 'https://ci.example/release', certificateOidcIssuer: 'https://issuer.example' } });
const policyText = (...patterns: string[]) => JSON.stringify({ images: patterns.map(rule) });

describe('AdmissionPolicyFile', () => {
  let dir: string;
  let path: string;
  let file: AdmissionPolicyFile | undefined;
  const changes: PolicyFileChange[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'admission-policy-file-'));
    path = join(dir, 'policy.json');
    changes.length = 0;
  });
  afterEach(() => {
    file?.close();
    file = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const open = () => (file = AdmissionPolicyFile.open(path, ROOTS));
  const patterns = () => file!.current.policy.rules.map((r) => r.pattern);
  const check = () => file!.check((change) => changes.push(change));

  it('refuses to open a file that is not valid, naming the rule', () => {
    writeFileSync(path, JSON.stringify({ images: [{ pattern: 'r.example/**', policy: {} }] }));
    expect(() => AdmissionPolicyFile.open(path, ROOTS)).toThrow(ConfigError);
    expect(() => AdmissionPolicyFile.open(join(dir, 'missing.json'), ROOTS)).toThrow(/cannot read .*missing\.json: ENOENT/);
  });

  it('applies a changed file, and nothing when the bytes are the same', async () => {
    writeFileSync(path, policyText('r.example/a/**'));
    open();
    await check();
    expect(changes).toEqual([]);
    writeFileSync(path, policyText('r.example/b/**'));
    await check();
    expect(patterns()).toEqual(['r.example/b/**']);
    expect(changes).toEqual([{ applied: file!.current }]);
    expect(file!.rejection).toBeUndefined();
  });

  it('keeps the last good policy when the file turns bad or disappears, saying why once, until a good one is written', async () => {
    writeFileSync(path, policyText('r.example/a/**'));
    open();
    const good = file!.current;
    writeFileSync(path, '{"images": [');
    await check();
    await check();
    expect(file!.current).toBe(good);
    expect(changes).toHaveLength(1);
    expect(file!.rejection).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), problems: [expect.stringMatching(/^is not JSON: /)] });

    rmSync(path);
    await check();
    await check();
    expect(file!.current).toBe(good);
    expect(changes).toHaveLength(2);
    expect(file!.rejection).toMatchObject({ sha256: undefined, problems: [`cannot read ${path}: ENOENT`] });

    writeFileSync(path, JSON.stringify({ images: [{ pattern: 'r.example/a/**', policy: rule('x').policy, trustRoot: 'nope' }] }));
    await check();
    expect(file!.rejection!.problems).toEqual(['images[0].trustRoot must name a configured trust root (default), not "nope"']);

    writeFileSync(path, policyText('r.example/c/**'));
    await check();
    expect(patterns()).toEqual(['r.example/c/**']);
    expect(file!.rejection).toBeUndefined();
  });

  it('clears the rejection when the bad edit is reverted to the version in force', async () => {
    writeFileSync(path, policyText('r.example/a/**'));
    open();
    const good = file!.current;
    writeFileSync(path, '[]');
    await check();
    expect(file!.rejection).toBeDefined();
    writeFileSync(path, policyText('r.example/a/**'));
    await check();
    expect(file!.current).toBe(good);
    expect(file!.rejection).toBeUndefined();
  });

  it('follows a ConfigMap-style swap of the ..data symlink, seen by watching the directory', async () => {
    // What the kubelet does: files live in a timestamped directory, `..data` links to it, the file links through `..data`.
    const version = (name: string, text: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'policy.json'), text);
    };
    version('..v1', policyText('r.example/one/**'));
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/policy.json', path);
    open();
    const seen = new Promise<PolicyFileChange>((resolve) =>
      file!.watch(60_000, resolve, (error) => resolve({ rejected: { sha256: undefined, at: new Date(), problems: [error.message] } })),
    );
    version('..v2', policyText('r.example/two/**'));
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    expect(await seen).toEqual({ applied: file!.current });
    expect(patterns()).toEqual(['r.example/two/**']);
  });

  it('reads the file again periodically even when no event says so', async () => {
    writeFileSync(path, policyText('r.example/a/**'));
    open();
    // A watcher that saw nothing: only the timer finds the change.
    const seen = new Promise<PolicyFileChange>((resolve) => {
      file!.watch(50, resolve, () => undefined);
      (file as unknown as { watcher?: { close(): void } }).watcher?.close();
    });
    writeFileSync(path, policyText('r.example/b/**'));
    await seen;
    expect(patterns()).toEqual(['r.example/b/**']);
  });
});
