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

export class TrustRootDto {
  @ApiProperty({ example: 'public-good', description: 'The name verification requests use (`trustRoot`)' }) name!: string;
  @ApiProperty({ example: 'tuf', description: '`tuf`, or the name of the trusted_root.json file it is read from' }) source!: string;
  @ApiProperty({ type: String, nullable: true, description: 'The root this name stands for (`default` without SIGSTORE_TRUSTED_ROOT_FILE is public-good)' })
  aliasOf!: string | null;
  @ApiProperty({ enum: ['loaded', 'not-loaded', 'failed'], description: 'Files are loaded when listed; the TUF root on first use' }) state!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) loadedAt!: string | null;
  @ApiProperty({ type: TrustRootErrorDto, nullable: true, description: 'Why the last load failed' }) error!: TrustRootErrorDto | null;
  @ApiProperty({ type: TrustedRootContentsDto, nullable: true, description: 'What the root holds, once loaded' }) contents!: TrustedRootContentsDto | null;
}

export class TrustRootListDto {
  @ApiProperty({ type: [TrustRootDto] }) trustRoots!: TrustRootDto[];
}
