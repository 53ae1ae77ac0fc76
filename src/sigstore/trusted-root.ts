import { createHash } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { type TrustMaterial, toTrustMaterial } from '@sigstore/verify';
import { memoizeTrustedChainChecks } from './trusted-chain-memo';
import { BundleVerificationError } from './verification-error';

const TRUSTED_ROOT_MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(?:\.v0\.\d+)?\+json(?:;\s*version=0\.\d+)?$/;

type Json = Record<string, unknown>;

/**
 * Reads a trusted_root.json document into a TrustedRoot, refusing one that is malformed.
 *
 * `TrustedRoot.fromJSON` accepts almost anything, and @sigstore/verify's `toTrustMaterial` reads a
 * validity period without a `start` as "valid since the beginning of time" (conformance case
 * `trust-root-tlog-missing-validity-start_fail`, which sigstore-js accepts). A TimeRange's start is
 * required by the trusted-root schema, and widening a key's validity to all time would let a key that
 * was only trusted later vouch for earlier entries, so a present validity period without a start makes
 * the whole root invalid here (as sigstore-go does). An absent validity period means unbounded.
 */
export function parseTrustedRoot(json: unknown): TrustedRoot {
  if (!isObject(json)) fail('it is not a JSON object');
  if (typeof json.mediaType !== 'string' || !TRUSTED_ROOT_MEDIA_TYPE.test(json.mediaType)) {
    fail(`mediaType ${JSON.stringify(json.mediaType)} is not a Sigstore trusted root media type`);
  }
  for (const field of ['tlogs', 'ctlogs'] as const) {
    listOf(json, field).forEach((log, i) => checkTransparencyLog(log, `${field}[${i}]`));
  }
  for (const field of ['certificateAuthorities', 'timestampAuthorities'] as const) {
    listOf(json, field).forEach((authority, i) => checkCertificateAuthority(authority, `${field}[${i}]`));
  }
  try {
    return TrustedRoot.fromJSON(json);
  } catch (error) {
    fail((error as Error).message, error);
  }
}

/** The verification material of a parsed root; key or certificate bytes that do not parse make it invalid. */
export function trustMaterialOf(root: TrustedRoot): TrustMaterial {
  try {
    return memoizeTrustedChainChecks(toTrustMaterial(root));
  } catch (error) {
    fail(`its keys or certificates cannot be read: ${(error as Error).message}`, error);
  }
}

function checkTransparencyLog(log: unknown, at: string): void {
  if (!isObject(log)) fail(`${at} is not an object`);
  const publicKey = log.publicKey;
  if (!isObject(publicKey) || typeof publicKey.rawBytes !== 'string' || publicKey.rawBytes === '') fail(`${at}.publicKey.rawBytes is missing`);
  if (!isObject(log.logId) || typeof log.logId.keyId !== 'string' || log.logId.keyId === '') fail(`${at}.logId.keyId is missing`);
  checkTimeRange(publicKey.validFor, `${at}.publicKey.validFor`);
}

function checkCertificateAuthority(authority: unknown, at: string): void {
  if (!isObject(authority)) fail(`${at} is not an object`);
  const certificates = isObject(authority.certChain) ? authority.certChain.certificates : undefined;
  if (!Array.isArray(certificates) || certificates.length === 0) fail(`${at}.certChain.certificates is missing or empty`);
  certificates.forEach((certificate, i) => {
    if (!isObject(certificate) || typeof certificate.rawBytes !== 'string' || certificate.rawBytes === '') fail(`${at}.certChain.certificates[${i}].rawBytes is missing`);
  });
  checkTimeRange(authority.validFor, `${at}.validFor`);
}

function checkTimeRange(range: unknown, at: string): void {
  if (range === undefined || range === null) return;
  if (!isObject(range)) fail(`${at} is not an object`);
  if (range.start === undefined || range.start === null) fail(`${at}.start is missing: a validity period must say when it starts`);
  const start = timestamp(range.start, `${at}.start`);
  if (range.end === undefined || range.end === null) return;
  const end = timestamp(range.end, `${at}.end`);
  if (end < start) fail(`${at} ends before it starts`);
}

function timestamp(value: unknown, at: string): number {
  const time = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) fail(`${at} is not an RFC 3339 timestamp`);
  return time;
}

function listOf(json: Json, field: string): unknown[] {
  const value = json[field];
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(`${field} is not a list`);
  return value;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function fail(reason: string, cause?: unknown): never {
  throw new BundleVerificationError('TRUSTED_ROOT_MALFORMED', `invalid trusted root: ${reason}`, { cause });
}

/** What a trusted root holds, for people: which authorities and logs, with their validity. */
export interface TrustedRootContents {
  mediaType: string;
  certificateAuthorities: AuthoritySummary[];
  timestampAuthorities: AuthoritySummary[];
  tlogs: LogSummary[];
  ctlogs: LogSummary[];
}

export interface ValidityPeriod {
  start: string | null;
  end: string | null;
}

export interface AuthoritySummary {
  subject: string;
  uri: string;
  certificates: number;
  validFor: ValidityPeriod;
}

export interface LogSummary {
  baseUrl: string;
  /** Base64 log ID (the SHA-256 of the log's public key), as bundles name it. */
  logId: string;
  /** Base64 key ID of the log's checkpoints (Rekor v2), when it differs from the log ID. */
  checkpointKeyId: string | null;
  validFor: ValidityPeriod;
}

export function describeTrustedRoot(root: TrustedRoot): TrustedRootContents {
  const validity = (range: { start?: Date; end?: Date } | undefined): ValidityPeriod => ({
    start: range?.start ? range.start.toISOString() : null,
    end: range?.end ? range.end.toISOString() : null,
  });
  const authority = (ca: TrustedRoot['certificateAuthorities'][number]): AuthoritySummary => ({
    subject: [ca.subject?.organization && `O=${ca.subject.organization}`, ca.subject?.commonName && `CN=${ca.subject.commonName}`].filter(Boolean).join(', '),
    uri: ca.uri,
    certificates: ca.certChain?.certificates.length ?? 0,
    validFor: validity(ca.validFor),
  });
  const log = (tlog: TrustedRoot['tlogs'][number]): LogSummary => ({
    baseUrl: tlog.baseUrl,
    logId: Buffer.from(tlog.logId?.keyId ?? []).toString('base64'),
    checkpointKeyId: tlog.checkpointKeyId ? Buffer.from(tlog.checkpointKeyId.keyId).toString('base64') : null,
    validFor: validity(tlog.publicKey?.validFor),
  });
  return {
    mediaType: root.mediaType,
    certificateAuthorities: root.certificateAuthorities.map(authority),
    timestampAuthorities: root.timestampAuthorities.map(authority),
    tlogs: root.tlogs.map(log),
    ctlogs: root.ctlogs.map(log),
  };
}

/** sha256 over a trusted root's JSON form: two roots with the same digest trust the same keys and logs. */
export function trustedRootDigest(root: TrustedRoot): string {
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(TrustedRoot.toJSON(root)))
    .digest('hex')}`;
}
