import { ApiProperty } from '@nestjs/swagger';
import { type CertificateDetails, certificateDetails } from '../x509/certificate-details';

export class SubjectAlternativeNamesDto {
  @ApiProperty({ type: [String], example: ['https://kubernetes.io/namespaces/ci/serviceaccounts/signer'] }) uris!: string[];
  @ApiProperty({ type: [String] }) emails!: string[];
  @ApiProperty({ type: [String] }) dnsNames!: string[];
  @ApiProperty({ type: [String] }) ipAddresses!: string[];
  @ApiProperty({
    type: 'array',
    items: { type: 'object', properties: { oid: { type: 'string' }, value: { type: 'string' } } },
    description: 'otherName entries (Fulcio: username identities under 1.3.6.1.4.1.57264.1.7)',
  })
  otherNames!: { oid: string; value: string }[];
}

export class PublicKeyDetailsDto {
  @ApiProperty({ example: 'id-ecPublicKey', description: "OpenSSL's name of the key algorithm, else its OID" }) algorithm!: string;
  @ApiProperty({ type: Number, nullable: true, example: 256 }) bits!: number | null;
  @ApiProperty({ type: String, nullable: true, example: 'prime256v1', description: 'Named curve of an EC key' }) curve!: string | null;
}

/** What `openssl x509 -noout -subject -issuer -dates -serial -fingerprint -sha256` shows, and more. */
export class CertificateDetailsDto implements CertificateDetails {
  @ApiProperty({ example: '', description: 'One-line subject as `openssl x509 -nameopt oneline,-space_eq,-esc_msb` prints it (Fulcio leaves have none)' })
  subject!: string;
  @ApiProperty({ example: 'O=sigstore.dev, CN=sigstore-intermediate', description: 'One-line issuer, same form' }) issuer!: string;
  @ApiProperty({ example: '68BFEDB264131E4DB59ADD54BA4FB0EDABC3073E', description: 'As `openssl x509 -serial`: upper-case hex without separators' })
  serialNumber!: string;
  @ApiProperty({ format: 'date-time' }) notBefore!: string;
  @ApiProperty({ format: 'date-time' }) notAfter!: string;
  @ApiProperty({ example: 'Mar 19 17:26:26 2024 GMT', description: 'As `openssl x509 -dates` prints it' }) notBeforeText!: string;
  @ApiProperty({ example: 'Mar 19 17:36:26 2024 GMT' }) notAfterText!: string;
  @ApiProperty({ example: '1D:14:E1:E5:…', description: 'SHA-256 of the DER, as `openssl x509 -fingerprint -sha256`' }) fingerprintSha256!: string;
  @ApiProperty({ type: SubjectAlternativeNamesDto }) subjectAlternativeNames!: SubjectAlternativeNamesDto;
  @ApiProperty({ type: String, nullable: true, example: 'https://token.actions.githubusercontent.com', description: 'Fulcio extension 1.3.6.1.4.1.57264.1.8, else the older .1.1' })
  oidcIssuer!: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description:
      'Fulcio extensions 1.3.6.1.4.1.57264.1.x present in the certificate, by name: issuerV1 (.1), githubWorkflowTrigger … githubWorkflowRef (.2–.6), issuer (.8), buildSignerUri (.9), buildSignerDigest, runnerEnvironment, sourceRepositoryUri, sourceRepositoryDigest, sourceRepositoryRef, sourceRepositoryIdentifier, sourceRepositoryOwnerUri, sourceRepositoryOwnerIdentifier, buildConfigUri, buildConfigDigest, buildTrigger, runInvocationUri, sourceRepositoryVisibilityAtSigning (.22)',
  })
  fulcioExtensions!: Record<string, string>;
  @ApiProperty({ type: PublicKeyDetailsDto }) publicKey!: PublicKeyDetailsDto;
  @ApiProperty({ example: 'ecdsa-with-SHA384' }) signatureAlgorithm!: string;
}

export class CertificateDto {
  @ApiProperty({ description: 'The leaf certificate, PEM' }) pem!: string;
  @ApiProperty({ type: CertificateDetailsDto }) decoded!: CertificateDetailsDto;

  static from(pem: string): CertificateDto {
    return { pem, decoded: certificateDetails(pem) };
  }
}
