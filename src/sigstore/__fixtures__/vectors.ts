import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial } from '@sigstore/verify';
import type { RekorEntry } from '../rekor-client';
import type { TransparencyLogKey } from '../transparency-log-key';

/** Loaders of the fixed test vectors in this folder (see README.md). Used by the unit tests only. */

const read = (name: string) => readFileSync(join(__dirname, name), 'utf8');

export const fixtureText = read;

export function fixtureJson<T = any>(name: string): T {
  return JSON.parse(read(name)) as T;
}

/** The transparency log keys of a trusted_root.json fixture. */
export function logKeys(trustedRootFixture: string): TransparencyLogKey[] {
  return toTrustMaterial(TrustedRoot.fromJSON(fixtureJson(trustedRootFixture))).tlogs;
}

/** The PEM of a bundle's leaf certificate. */
export function bundleCertificatePem(bundleFixture: string): string {
  const raw = fixtureJson(bundleFixture).verificationMaterial.certificate.rawBytes as string;
  return `-----BEGIN CERTIFICATE-----\n${raw.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** The local stack's Rekor answer as RekorClient returns it. */
export function localStackRekorEntry(): RekorEntry {
  const [uuid, entry] = Object.entries(fixtureJson<Record<string, Omit<RekorEntry, 'uuid'>>>('local-stack-rekor-entry.json'))[0]!;
  return { uuid, ...entry };
}

/**
 * The 80-hex UUID rekor.sigstore.dev gives a bundle's entry: the tree ID of its shard (named in the
 * checkpoint's origin line, `rekor.sigstore.dev - <decimal tree ID>`) then the leaf hash.
 */
export function bundleEntryUuid(bundleFixture: string): string {
  const entry = fixtureJson(bundleFixture).verificationMaterial.tlogEntries[0];
  const treeId = BigInt(/ - (\d+)\n/.exec(entry.inclusionProof.checkpoint.envelope)![1]!);
  const body = Buffer.from(entry.canonicalizedBody, 'base64');
  return treeId.toString(16).padStart(16, '0') + createHash('sha256').update(Buffer.from([0])).update(body).digest('hex');
}
