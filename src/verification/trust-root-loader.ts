import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { getTrustedRoot } from '@sigstore/tuf';
import { type TrustMaterial, toTrustMaterial } from '@sigstore/verify';

/**
 * Loads Sigstore trust material once and keeps it: a trusted_root.json file, or the public-good root
 * through TUF (starting from the root embedded in @sigstore/tuf, cached under the data directory).
 */
export class TrustRootLoader {
  private material: Promise<TrustMaterial> | undefined;

  constructor(private readonly source: { file: string } | { tufCacheDir: string }) {}

  get description(): string {
    return 'file' in this.source ? `trusted root ${this.source.file}` : 'Sigstore public-good trusted root (TUF)';
  }

  trustMaterial(): Promise<TrustMaterial> {
    this.material ??= this.load().catch((error: unknown) => {
      this.material = undefined; // a failed load (network, bad file) is tried again next time
      throw error;
    });
    return this.material;
  }

  private async load(): Promise<TrustMaterial> {
    const root =
      'file' in this.source
        ? TrustedRoot.fromJSON(JSON.parse(await readFile(this.source.file, 'utf8')))
        : await getTrustedRoot({ cachePath: join(this.source.tufCacheDir, 'tuf-cache') });
    return toTrustMaterial(root);
  }
}
