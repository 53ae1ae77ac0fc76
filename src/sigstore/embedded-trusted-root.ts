import { readFile } from 'node:fs/promises';
import { DEFAULT_MIRROR_URL } from '@sigstore/tuf';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { parseTrustedRoot } from './trusted-root';

const TRUSTED_ROOT_TARGET = 'trusted_root.json';

interface TufSeeds {
  [mirrorUrl: string]: { 'root.json': string; targets?: Record<string, string> } | undefined;
}

/** @sigstore/tuf's seeds (its package file): per mirror, the TUF root metadata and targets, base64. */
async function publicGoodSeed(): Promise<NonNullable<TufSeeds[string]>> {
  const seeds = JSON.parse(await readFile(require.resolve('@sigstore/tuf/seeds.json'), 'utf8')) as TufSeeds;
  const seed = seeds[DEFAULT_MIRROR_URL];
  if (!seed) throw new Error(`@sigstore/tuf has no seed for ${DEFAULT_MIRROR_URL}`);
  return seed;
}

/**
 * The public-good trusted root shipped inside @sigstore/tuf (the `trusted_root.json` target of its
 * seeds, which it copies into a fresh TUF cache): the floor when neither TUF nor a last good copy on
 * disk answers. It is as old as the installed @sigstore/tuf; TUF replaces it as soon as it is reachable.
 */
export async function embeddedTrustedRoot(): Promise<TrustedRoot> {
  const target = (await publicGoodSeed()).targets?.[TRUSTED_ROOT_TARGET];
  if (!target) throw new Error(`@sigstore/tuf's seed holds no ${TRUSTED_ROOT_TARGET}`);
  return parseTrustedRoot(JSON.parse(Buffer.from(target, 'base64').toString('utf8')));
}

/**
 * The public-good TUF root metadata shipped inside @sigstore/tuf. A mirror of the public-good TUF
 * repository serves the same signed metadata, so its updates are checked from this root too
 * (@sigstore/tuf seeds a cache only for the mirror URL it knows).
 */
export async function embeddedTufRoot(): Promise<Buffer> {
  return Buffer.from((await publicGoodSeed())['root.json'], 'base64');
}

export { DEFAULT_MIRROR_URL as PUBLIC_GOOD_TUF_MIRROR_URL };
