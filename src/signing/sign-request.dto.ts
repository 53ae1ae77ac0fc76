import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';
import { MAX_REFERENCE_LENGTH, MAX_URL_LENGTH } from '../common/field-limits';
import { EXAMPLES } from '../openapi/examples';

export class SignRequestDto {
  @ApiProperty({
    description: 'The artifact to sign: `host[:port]/path@sha256:<hex>`, or a tag (`host[:port]/path:tag`) which is resolved to its digest first',
    example: EXAMPLES.reference,
    maxLength: MAX_REFERENCE_LENGTH,
  })
  @IsString()
  @MaxLength(MAX_REFERENCE_LENGTH)
  reference!: string;

  @ApiPropertyOptional({
    description: 'Notified when the job finishes (needs WEBHOOK_CALLBACK_SECRET)',
    format: 'uri',
    example: EXAMPLES.callbackUrl,
    maxLength: MAX_URL_LENGTH,
  })
  @IsOptional()
  @MaxLength(MAX_URL_LENGTH)
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  callbackUrl?: string;
}
