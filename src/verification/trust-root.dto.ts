import { ApiProperty } from '@nestjs/swagger';

export class ValidityPeriodDto {
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'null: the trusted root gives no validity period' }) start!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'null: still valid' }) end!: string | null;
}

export class CertificateAuthorityDto {
  @ApiProperty({ example: 'O=sigstore.dev, CN=sigstore' }) subject!: string;
  @ApiProperty({ example: 'https://fulcio.sigstore.dev' }) uri!: string;
  @ApiProperty({ description: 'Certificates in its chain' }) certificates!: number;
  @ApiProperty({ type: ValidityPeriodDto }) validFor!: ValidityPeriodDto;
}

export class TransparencyLogDto {
  @ApiProperty({ example: 'https://rekor.sigstore.dev' }) baseUrl!: string;
  @ApiProperty({ description: 'Log ID (base64 SHA-256 of the log key), as bundles name it', example: 'wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=' }) logId!: string;
  @ApiProperty({ type: String, nullable: true, description: 'Key ID of its checkpoints (Rekor v2)' }) checkpointKeyId!: string | null;
  @ApiProperty({ type: ValidityPeriodDto }) validFor!: ValidityPeriodDto;
}

export class TrustedRootContentsDto {
  @ApiProperty({ example: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }) mediaType!: string;
  @ApiProperty({ type: [CertificateAuthorityDto], description: 'Fulcio certificate authorities' }) certificateAuthorities!: CertificateAuthorityDto[];
  @ApiProperty({ type: [CertificateAuthorityDto], description: 'RFC 3161 timestamp authorities' }) timestampAuthorities!: CertificateAuthorityDto[];
  @ApiProperty({ type: [TransparencyLogDto], description: 'Rekor transparency logs' }) tlogs!: TransparencyLogDto[];
  @ApiProperty({ type: [TransparencyLogDto], description: 'Certificate transparency logs (SCTs)' }) ctlogs!: TransparencyLogDto[];
}

export class TrustRootErrorDto {
  @ApiProperty({ example: 'TRUST_ROOT_UNAVAILABLE' }) code!: string;
  @ApiProperty() message!: string;
}

export class TufRootStatusDto {
  @ApiProperty({
    enum: ['tuf', 'disk', 'embedded'],
    description:
      '`tuf`: fetched from the TUF mirror; `disk`: the last good copy kept under DATA_DIR (TUF could not be reached); `embedded`: the copy shipped inside @sigstore/tuf (neither TUF nor a good copy on disk)',
  })
  servedFrom!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When TUF delivered the root in use; null for the embedded copy' }) fetchedAt!: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Seconds since fetchedAt' }) ageSeconds!: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Since when the root is stale (TUF could not confirm it)' }) staleSince!: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The next background fetch through TUF' }) nextAttemptAt!: string | null;
}

export class TrustRootDto {
  @ApiProperty({ example: 'public-good', description: 'The name verification requests use (`trustRoot`)' }) name!: string;
  @ApiProperty({ example: 'tuf', description: '`tuf`, or the name of the trusted_root.json file it is read from' }) source!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The root this name stands for (`default` without SIGSTORE_TRUSTED_ROOT_FILE is public-good)' })
  aliasOf!: string | null;
  @ApiProperty({
    enum: ['loaded', 'stale', 'not-loaded', 'failed'],
    description:
      'Files are loaded when listed; the TUF root on first use (at start when a last good copy is on disk). `stale`: TUF could not be reached, the root in `tuf.servedFrom` verifies meanwhile and TUF is tried again in the background',
  })
  state!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) loadedAt!: string | null;
  @ApiProperty({ type: TrustRootErrorDto, nullable: true, description: 'Why the last load failed, or (stale) why TUF could not be reached' }) error!: TrustRootErrorDto | null;
  @ApiProperty({ type: TufRootStatusDto, nullable: true, description: 'A TUF root once loaded: where the root in use came from and how current it is; null for a file' })
  tuf!: TufRootStatusDto | null;
  @ApiProperty({ type: TrustedRootContentsDto, nullable: true, description: 'What the root holds, once loaded' }) contents!: TrustedRootContentsDto | null;
}

export class TrustRootListDto {
  @ApiProperty({ type: [TrustRootDto] }) trustRoots!: TrustRootDto[];
}
