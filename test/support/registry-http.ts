import { spawnSync } from 'node:child_process';

/** Reads what a registry holds, as an independent client would (plain HTTP to the local registry). */
export class RegistryReader {
  constructor(private readonly host: string) {}

  async manifest(repository: string, reference: string): Promise<{ status: number; json?: Record<string, any>; bytes?: Buffer; digest?: string | null }> {
    const response = await fetch(`http://${this.host}/v2/${repository}/manifests/${reference}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    if (!response.ok) return { status: response.status };
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, bytes, json: JSON.parse(bytes.toString('utf8')), digest: response.headers.get('docker-content-digest') };
  }

  async blob(repository: string, digest: string): Promise<Buffer | undefined> {
    const response = await fetch(`http://${this.host}/v2/${repository}/blobs/${digest}`);
    return response.ok ? Buffer.from(await response.arrayBuffer()) : undefined;
  }

  async blobStatus(repository: string, digest: string): Promise<number> {
    return (await fetch(`http://${this.host}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' })).status;
  }

  async tags(repository: string): Promise<string[]> {
    const response = await fetch(`http://${this.host}/v2/${repository}/tags/list`);
    if (!response.ok) return [];
    return ((await response.json()) as { tags?: string[] | null }).tags ?? [];
  }
}

/** `skopeo inspect --raw` (or `--config --raw`): what a real registry client reads. */
export function skopeoInspect(reference: string, what: 'manifest' | 'config' = 'manifest'): Record<string, any> {
  const args = ['inspect', '--tls-verify=false', '--raw', ...(what === 'config' ? ['--config'] : []), `docker://${reference}`];
  const result = spawnSync('skopeo', args, { encoding: 'utf8' });
  if (result.error) throw new Error(`skopeo is not installed (Debian: apt-get install skopeo): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}
