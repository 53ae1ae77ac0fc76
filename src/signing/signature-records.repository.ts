import type { CallerIdentity } from '../access/caller';
import { Injectable } from '@nestjs/common';
import type { Bundle } from '@sigstore/bundle';
import { bundleToJSON } from '@sigstore/bundle';
import { DatabaseService } from '../database/database.service';
import { leafHash } from '../sigstore/inclusion-proof';
import type { SignatureFormat, SignatureRow } from '../database/database.types';
import { toPem } from '../x509/pem';
import { certificateIdentity } from '../x509/certificate-identity';
import { bundleLeafCertificate } from '../signature-formats/bundle-leaf-certificate';

export interface NewSignatureRecord {
  jobId: string;
  artifactId: string | null;
  repository: string;
  reference: string;
  manifestDigest: string;
  wasmDigest: string | null;
  format: SignatureFormat;
  bundle: Bundle;
  /** The entry UUID as Rekor names it (80 hex with the tree ID) when known, else the leaf hash. */
  rekorEntryUuid?: string;
  caller: string | null;
  /** The caller's identity (key id and name, or OIDC issuer, subject, rule and matched claims). */
  requestedBy: CallerIdentity | null;
}

/** The signature records: one per job and format, with the Rekor entry and the certificate. */
@Injectable()
export class SignatureRecords {
  constructor(private readonly database: DatabaseService) {}

  findForJob(jobId: string): Promise<SignatureRow[]> {
    return this.database.db.selectFrom('signatures').selectAll().where('job_id', '=', jobId).orderBy('created_at').execute();
  }

  /**
   * Stores a signature. A second insert for the same job and format (a step run again after a crash
   * that happened after the first insert) keeps the first record and returns it.
   */
  async insert(record: NewSignatureRecord): Promise<SignatureRow> {
    const entry = record.bundle.verificationMaterial.tlogEntries[0];
    if (!entry) throw new Error('the bundle has no transparency log entry');
    const certificateDer = bundleLeafCertificate(record.bundle);
    if (!certificateDer) throw new Error('keyless signatures carry a certificate');
    const facts = certificateIdentity(certificateDer);
    const inserted = await this.database.db
      .insertInto('signatures')
      .values({
        job_id: record.jobId,
        artifact_id: record.artifactId,
        repository: record.repository,
        reference: record.reference,
        manifest_digest: record.manifestDigest,
        wasm_digest: record.wasmDigest,
        format: record.format,
        rekor_log_index: Number(entry.logIndex),
        rekor_entry_uuid: record.rekorEntryUuid ?? leafHash(entry.canonicalizedBody).toString('hex'),
        rekor_integrated_time: new Date(Number(entry.integratedTime) * 1000),
        rekor_log_id: entry.logId!.keyId.toString('hex'),
        certificate_pem: toPem(certificateDer),
        identity: facts.identity,
        issuer: facts.issuer,
        certificate_not_before: facts.notBefore,
        certificate_not_after: facts.notAfter,
        bundle: JSON.stringify(bundleToJSON(record.bundle)),
        caller: record.caller,
        requested_by: record.requestedBy ? JSON.stringify(record.requestedBy) : null,
      })
      .onConflict((oc) => oc.columns(['job_id', 'format']).where('job_id', 'is not', null).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return inserted;
    return this.database.db.selectFrom('signatures').selectAll().where('job_id', '=', record.jobId).where('format', '=', record.format).executeTakeFirstOrThrow();
  }
}
