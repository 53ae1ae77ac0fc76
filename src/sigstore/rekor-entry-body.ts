/** A Rekor v1 entry body: `{apiVersion, kind, spec}` (the canonicalized JSON the log signs). */
export interface RekorEntryBody {
  apiVersion?: string;
  kind?: string;
  // The spec's shape depends on kind and apiVersion; readers check each field they use.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: Record<string, any>;
  [field: string]: unknown;
}

export function parseEntryBody(body: Buffer): RekorEntryBody {
  const parsed = JSON.parse(body.toString('utf8')) as unknown;
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the entry body is not a JSON object');
  return parsed as RekorEntryBody;
}

/**
 * The PEM certificates an entry names as its signers' verification material: the public key of a
 * hashedrekord or rekord entry, the verifiers of a dsse entry, the envelope keys of an intoto 0.0.2
 * entry. Public keys that are not certificates are left out.
 */
export function entryCertificates(body: RekorEntryBody): string[] {
  const spec = body.spec ?? {};
  const encoded: unknown[] = [];
  switch (body.kind) {
    case 'hashedrekord':
    case 'rekord':
      encoded.push(spec.signature?.publicKey?.content);
      break;
    case 'dsse':
      for (const signature of asArray(spec.signatures)) encoded.push(signature?.verifier);
      break;
    case 'intoto':
      for (const signature of asArray(spec.content?.envelope?.signatures)) encoded.push(signature?.publicKey);
      break;
  }
  return encoded.flatMap((value) => {
    const pem = decodePem(value);
    return pem?.includes('-----BEGIN CERTIFICATE-----') ? [pem] : [];
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- elements are checked where they are read
function asArray(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

/** Base64 of a PEM text; intoto 0.0.2 adds a second base64 layer. */
function decodePem(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let text = Buffer.from(value, 'base64').toString('utf8');
  if (!text.startsWith('-----BEGIN')) text = Buffer.from(text, 'base64').toString('utf8');
  return text.startsWith('-----BEGIN') ? text : undefined;
}
