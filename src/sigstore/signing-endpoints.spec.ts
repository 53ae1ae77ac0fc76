import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { AppConfig } from '../config/config.schema';
import { resolveSigningEndpoints } from './signing-endpoints';

const NOW = new Date('2026-06-01T00:00:00Z');
const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

const signing = (overrides: Partial<AppConfig['signing']> = {}): AppConfig['signing'] => ({
  formats: ['cosign-classic', 'sigstore-bundle'],
  certificateScope: 'job',
  signingConfigFile: undefined,
  timeoutMs: 30_000,
  fulcioUrl: undefined,
  rekorUrl: undefined,
  tsaUrl: undefined,
  trustedRootFile: undefined,
  ...overrides,
});

/** A signing_config.json as the Sigstore TUF repositories publish it (v0.2), with a rotation in each list. */
const signingConfigV02 = {
  mediaType: SIGNING_CONFIG_MEDIA_TYPE,
  caUrls: [
    { url: 'https://fulcio.next.example', majorApiVersion: 1, validFor: { start: '2027-01-01T00:00:00Z' }, operator: 'example.dev' },
    { url: 'https://fulcio.old.example', majorApiVersion: 1, validFor: { start: '2024-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' }, operator: 'example.dev' },
    { url: 'https://fulcio.example', majorApiVersion: 1, validFor: { start: '2026-01-01T00:00:00Z' }, operator: 'example.dev' },
  ],
  oidcUrls: [{ url: 'https://oauth2.example', majorApiVersion: 1, validFor: { start: '2024-01-01T00:00:00Z' }, operator: 'example.dev' }],
  rekorTlogUrls: [
    { url: 'https://log2026-1.rekor.example', majorApiVersion: 2, validFor: { start: '2025-09-01T00:00:00Z' }, operator: 'example.dev' },
    { url: 'https://rekor.example', majorApiVersion: 1, validFor: { start: '2024-01-01T00:00:00Z' }, operator: 'example.dev' },
  ],
  tsaUrls: [{ url: 'https://timestamp.example/api/v1/timestamp', majorApiVersion: 1, validFor: { start: '2025-01-01T00:00:00Z' }, operator: 'example.dev' }],
  rekorTlogConfig: { selector: 'ANY' },
  tsaConfig: { selector: 'ANY' },
};

describe('resolveSigningEndpoints', () => {
  let dir: string;
  const writeConfig = (name: string, content: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wasm-signer-signing-config-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to the public-good instance, without a timestamp authority', () => {
    expect(resolveSigningEndpoints(signing(), NOW)).toEqual({
      fulcioUrl: 'https://fulcio.sigstore.dev',
      rekorUrl: 'https://rekor.sigstore.dev',
      tsaUrl: undefined,
    });
  });

  it('uses explicit URLs', () => {
    expect(
      resolveSigningEndpoints(signing({ fulcioUrl: 'http://127.0.0.1:5555', rekorUrl: 'http://127.0.0.1:3000', tsaUrl: 'http://127.0.0.1:3004/api/v1/timestamp' }), NOW),
    ).toEqual({ fulcioUrl: 'http://127.0.0.1:5555', rekorUrl: 'http://127.0.0.1:3000', tsaUrl: 'http://127.0.0.1:3004/api/v1/timestamp' });
  });

  it('takes from a signing config v0.2 the entry valid now, and Rekor with the v1 API', () => {
    const path = writeConfig('signing_config.json', signingConfigV02);
    expect(resolveSigningEndpoints(signing({ signingConfigFile: path }), NOW)).toEqual({
      fulcioUrl: 'https://fulcio.example',
      rekorUrl: 'https://rekor.example',
      tsaUrl: 'https://timestamp.example/api/v1/timestamp',
    });
  });

  it('judges validity at the given time: before a rotation, after it, and at its exact boundaries', () => {
    const path = writeConfig('signing_config.json', signingConfigV02);
    const fulcioAt = (when: string) => resolveSigningEndpoints(signing({ signingConfigFile: path }), new Date(when)).fulcioUrl;
    expect(fulcioAt('2025-06-01T00:00:00Z')).toBe('https://fulcio.old.example');
    // `end` is exclusive, `start` inclusive.
    expect(fulcioAt('2025-12-31T23:59:59Z')).toBe('https://fulcio.old.example');
    expect(fulcioAt('2026-01-01T00:00:00Z')).toBe('https://fulcio.example');
    // The first entry in file order that is valid wins.
    expect(fulcioAt('2027-06-01T00:00:00Z')).toBe('https://fulcio.next.example');
    // Nothing valid yet: the public-good defaults, and no TSA.
    const early = resolveSigningEndpoints(signing({ signingConfigFile: path }), new Date('2023-01-01T00:00:00Z'));
    expect(early).toEqual({ fulcioUrl: 'https://fulcio.sigstore.dev', rekorUrl: 'https://rekor.sigstore.dev', tsaUrl: undefined });
  });

  it('never picks a Rekor v2 log; an entry without majorApiVersion counts as v1', () => {
    const onlyV2 = writeConfig('only-v2.json', {
      ...signingConfigV02,
      rekorTlogUrls: [{ url: 'https://log2026-1.rekor.example', majorApiVersion: 2, validFor: { start: '2025-01-01T00:00:00Z' } }],
    });
    expect(resolveSigningEndpoints(signing({ signingConfigFile: onlyV2 }), NOW).rekorUrl).toBe('https://rekor.sigstore.dev');

    const unversioned = writeConfig('unversioned.json', {
      mediaType: SIGNING_CONFIG_MEDIA_TYPE,
      rekorTlogUrls: [{ url: 'https://rekor.unversioned.example', validFor: { start: '2025-01-01T00:00:00Z' } }],
    });
    expect(resolveSigningEndpoints(signing({ signingConfigFile: unversioned }), NOW)).toEqual({
      fulcioUrl: 'https://fulcio.sigstore.dev',
      rekorUrl: 'https://rekor.unversioned.example',
      tsaUrl: undefined,
    });
  });

  it('lets explicit URLs win over the signing config, one by one', () => {
    const path = writeConfig('signing_config.json', signingConfigV02);
    expect(resolveSigningEndpoints(signing({ signingConfigFile: path, rekorUrl: 'http://127.0.0.1:3000' }), NOW)).toEqual({
      fulcioUrl: 'https://fulcio.example',
      rekorUrl: 'http://127.0.0.1:3000',
      tsaUrl: 'https://timestamp.example/api/v1/timestamp',
    });
    expect(resolveSigningEndpoints(signing({ signingConfigFile: path, fulcioUrl: 'http://127.0.0.1:5555', tsaUrl: 'http://127.0.0.1:3004/api/v1/timestamp' }), NOW)).toEqual({
      fulcioUrl: 'http://127.0.0.1:5555',
      rekorUrl: 'https://rekor.example',
      tsaUrl: 'http://127.0.0.1:3004/api/v1/timestamp',
    });
  });

  it('accepts the media type with parameters after it', () => {
    const path = writeConfig('with-params.json', { ...signingConfigV02, mediaType: `${SIGNING_CONFIG_MEDIA_TYPE}; charset=utf-8` });
    expect(resolveSigningEndpoints(signing({ signingConfigFile: path }), NOW).fulcioUrl).toBe('https://fulcio.example');
  });

  it('refuses a file that is not a signing config v0.2, naming SIGSTORE_SIGNING_CONFIG_FILE and the file', () => {
    const v01 = writeConfig('v01.json', { ...signingConfigV02, mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.1+json' });
    expect(() => resolveSigningEndpoints(signing({ signingConfigFile: v01 }), NOW)).toThrow(
      `SIGSTORE_SIGNING_CONFIG_FILE: ${v01} is not a signing config v0.2 (mediaType application/vnd.dev.sigstore.signingconfig.v0.1+json)`,
    );

    const trustedRoot = writeConfig('trusted_root.json', { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [] });
    expect(() => resolveSigningEndpoints(signing({ signingConfigFile: trustedRoot }), NOW)).toThrow(
      /^SIGSTORE_SIGNING_CONFIG_FILE: .*trusted_root\.json is not a signing config v0\.2/,
    );

    const noMediaType = writeConfig('no-media-type.json', { caUrls: signingConfigV02.caUrls });
    expect(() => resolveSigningEndpoints(signing({ signingConfigFile: noMediaType }), NOW)).toThrow(/SIGSTORE_SIGNING_CONFIG_FILE: .*\(mediaType missing\)/);

    for (const [name, content] of [
      ['array.json', '[]'],
      ['null.json', 'null'],
      ['number.json', '2'],
    ] as const) {
      const path = writeConfig(name, content);
      expect(() => resolveSigningEndpoints(signing({ signingConfigFile: path }), NOW)).toThrow(/^SIGSTORE_SIGNING_CONFIG_FILE: .* is not a signing config v0\.2/);
    }
  });

  it('refuses a missing or unparsable file, naming SIGSTORE_SIGNING_CONFIG_FILE and the file', () => {
    const missing = join(dir, 'missing.json');
    expect(() => resolveSigningEndpoints(signing({ signingConfigFile: missing }), NOW)).toThrow(`SIGSTORE_SIGNING_CONFIG_FILE: cannot read ${missing}`);
    expect(() => resolveSigningEndpoints(signing({ signingConfigFile: missing }), NOW)).toThrow(/ENOENT/);

    const broken = writeConfig('broken.json', '{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",');
    expect(() => resolveSigningEndpoints(signing({ signingConfigFile: broken }), NOW)).toThrow(`SIGSTORE_SIGNING_CONFIG_FILE: cannot read ${broken}`);

    // Explicit URLs do not excuse a broken file: it is named in the configuration, so it is read.
    expect(() =>
      resolveSigningEndpoints(signing({ signingConfigFile: missing, fulcioUrl: 'https://f.example', rekorUrl: 'https://r.example', tsaUrl: 'https://t.example' }), NOW),
    ).toThrow(/SIGSTORE_SIGNING_CONFIG_FILE/);
  });
});
