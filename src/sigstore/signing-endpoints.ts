import { readFileSync } from 'node:fs';
import type { AppConfig } from '../config/config.schema';

/** Where signatures are made: Fulcio, Rekor (v1 API) and optionally a timestamp authority. */
export interface SigningEndpoints {
  fulcioUrl: string;
  rekorUrl: string;
  tsaUrl: string | undefined;
}

const PUBLIC_GOOD = { fulcioUrl: 'https://fulcio.sigstore.dev', rekorUrl: 'https://rekor.sigstore.dev' };

interface ServiceEntry {
  url: string;
  majorApiVersion?: number;
  validFor?: { start?: string; end?: string };
}

/**
 * Explicit URLs win; otherwise a Sigstore signing_config.json (v0.2) names the services (the first one
 * valid now, Rekor restricted to the v1 API this service speaks); otherwise the public-good instance.
 */
export function resolveSigningEndpoints(signing: AppConfig['signing'], now = new Date()): SigningEndpoints {
  const fromFile = signing.signingConfigFile ? readSigningConfig(signing.signingConfigFile, now) : {};
  return {
    fulcioUrl: signing.fulcioUrl ?? fromFile.fulcioUrl ?? PUBLIC_GOOD.fulcioUrl,
    rekorUrl: signing.rekorUrl ?? fromFile.rekorUrl ?? PUBLIC_GOOD.rekorUrl,
    tsaUrl: signing.tsaUrl ?? fromFile.tsaUrl,
  };
}

function readSigningConfig(path: string, now: Date): Partial<SigningEndpoints> {
  let document: { mediaType?: string; caUrls?: ServiceEntry[]; rekorTlogUrls?: ServiceEntry[]; tsaUrls?: ServiceEntry[] };
  try {
    document = JSON.parse(readFileSync(path, 'utf8')) as typeof document;
  } catch (error) {
    throw new Error(`SIGSTORE_SIGNING_CONFIG_FILE: cannot read ${path}: ${(error as Error).message}`);
  }
  if (!document?.mediaType?.startsWith('application/vnd.dev.sigstore.signingconfig.v0.2+json')) {
    throw new Error(`SIGSTORE_SIGNING_CONFIG_FILE: ${path} is not a signing config v0.2 (mediaType ${document?.mediaType ?? 'missing'})`);
  }
  const current = (entries: ServiceEntry[] | undefined, apiVersion?: number) =>
    entries?.find(
      (e) =>
        (apiVersion === undefined || (e.majorApiVersion ?? 1) === apiVersion) &&
        (!e.validFor?.start || new Date(e.validFor.start) <= now) &&
        (!e.validFor?.end || new Date(e.validFor.end) > now),
    )?.url;
  return { fulcioUrl: current(document.caUrls), rekorUrl: current(document.rekorTlogUrls, 1), tsaUrl: current(document.tsaUrls) };
}
