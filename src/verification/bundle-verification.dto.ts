import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBase64, IsDefined, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateBy } from 'class-validator';
import { MAX_REGEXP_LENGTH } from '../common/caller-regexp';
import { MAX_BUNDLE_TEXT_LENGTH, MAX_DIGEST_LENGTH, MAX_INLINE_ARTIFACT_BASE64_LENGTH, MAX_POLICY_FIELD_LENGTH, MAX_TRUST_ROOT_NAME_LENGTH } from '../common/field-limits';
import { VERIFICATION_ERROR_CODES } from '../sigstore/verification-error';

const IsObjectOrString = () =>
  ValidateBy({
    name: 'isObjectOrString',
    validator: {
      validate: (value: unknown) => (typeof value === 'string' && value.length <= MAX_BUNDLE_TEXT_LENGTH) || (typeof value === 'object' && value !== null && !Array.isArray(value)),
      defaultMessage: () => `$property must be the bundle as a JSON object, or the text of a .sigstore.json file (at most ${MAX_BUNDLE_TEXT_LENGTH} characters)`,
    },
  });

/** Documentation of the bundle verification policy (no annotations: a bundle carries none); it is read, and its combinations checked, by buildSignerPolicy. */
export class BundleVerificationPolicyDto {
  @ApiPropertyOptional({
    description: 'The certificate identity (subject alternative name) that must have signed, exactly',
    example: 'https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main',
    maxLength: MAX_POLICY_FIELD_LENGTH,
  })
  certificateIdentity?: string;

  @ApiPropertyOptional({
    description: 'A regular expression (JavaScript syntax) the whole certificate identity must match; anchored as `^(?:…)$`',
    example: 'https://github\\.com/org/[^/]+/\\.github/workflows/.*',
    maxLength: MAX_REGEXP_LENGTH,
  })
  certificateIdentityRegExp?: string;

  @ApiPropertyOptional({
    description: 'The OIDC issuer recorded in the certificate, exactly',
    example: 'https://token.actions.githubusercontent.com',
    maxLength: MAX_POLICY_FIELD_LENGTH,
  })
  certificateOidcIssuer?: string;

  @ApiPropertyOptional({ description: 'A regular expression the whole OIDC issuer must match; anchored as `^(?:…)$`', maxLength: MAX_REGEXP_LENGTH })
  certificateOidcIssuerRegExp?: string;

  @ApiPropertyOptional({
    description: 'Instead of an identity: the PEM public key (SubjectPublicKeyInfo) a bundle signed with a key must verify with',
    maxLength: MAX_POLICY_FIELD_LENGTH,
  })
  publicKey?: string;
}

export class BundleVerificationRequestDto {
  @ApiProperty({
    description: 'The Sigstore bundle (v0.1 to v0.3): its JSON document, or the text of the `.sigstore.json` file',
    oneOf: [
      { type: 'object', additionalProperties: true },
      { type: 'string', maxLength: MAX_BUNDLE_TEXT_LENGTH },
    ],
  })
  @IsDefined()
  @IsObjectOrString()
  bundle!: Record<string, unknown> | string;

  @ApiPropertyOptional({ description: 'The artifact, base64. Give this or `artifactDigest`', format: 'byte', maxLength: MAX_INLINE_ARTIFACT_BASE64_LENGTH })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_INLINE_ARTIFACT_BASE64_LENGTH, {
    message: `artifact must be at most ${MAX_INLINE_ARTIFACT_BASE64_LENGTH} base64 characters; verify a larger artifact by artifactDigest`,
  })
  @IsBase64()
  artifact?: string;

  @ApiPropertyOptional({
    description: "Only the artifact's digest (for large artifacts). A DSSE bundle must name it as an in-toto subject; a message signature is checked against it (ECDSA keys)",
    example: 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf',
    pattern: '^sha256:[0-9a-fA-F]{64}$',
    maxLength: MAX_DIGEST_LENGTH,
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_DIGEST_LENGTH)
  @Matches(/^sha256:[0-9a-fA-F]{64}$/, { message: 'artifactDigest must be sha256:<64 hex digits>' })
  artifactDigest?: string;

  @ApiProperty({
    type: BundleVerificationPolicyDto,
    description: 'Who must have signed: `certificateIdentity` or `certificateIdentityRegExp`, and `certificateOidcIssuer` or `certificateOidcIssuerRegExp`; or only `publicKey`',
  })
  @IsDefined()
  @IsObject()
  policy!: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'Name of a configured trust root (`GET /v1/trust-roots`); `default` when neither this nor `trustedRoot` is given',
    example: 'public-good',
    maxLength: MAX_TRUST_ROOT_NAME_LENGTH,
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_TRUST_ROOT_NAME_LENGTH)
  trustRoot?: string;

  @ApiPropertyOptional({ description: 'A Sigstore `trusted_root.json` document to verify with, instead of a configured trust root', type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  trustedRoot?: Record<string, unknown>;
}

export class BundleVerificationErrorDto {
  @ApiProperty({ enum: Object.keys(VERIFICATION_ERROR_CODES), description: 'Stable machine-readable reason', example: 'TLOG_INCLUSION_PROOF_INVALID' })
  code!: string;

  @ApiProperty({ example: 'invalid checkpoint signature' }) message!: string;
}

export class BundleVerificationResultDto {
  @ApiProperty({ description: 'Whether the bundle verifies for this artifact, policy and trust root' }) verified!: boolean;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The verified certificate identity (subject alternative name); null for key-signed bundles or before the certificate verified',
  })
  identity!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The verified OIDC issuer of the certificate' }) issuer!: string | null;

  @ApiProperty({ type: BundleVerificationErrorDto, nullable: true, description: 'Why the bundle does not verify' }) error!: BundleVerificationErrorDto | null;
}
