import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, IsUrl, MaxLength } from 'class-validator';

export class SignRequestDto {
  @ApiProperty({
    description: 'The artifact to sign: `host[:port]/path@sha256:<hex>`, or a tag (`host[:port]/path:tag`) which is resolved to its digest first',
    example: 'registry.example.com/team/hello-http:v1.0.0',
  })
  @IsString()
  @MaxLength(1024)
  reference!: string;

  @ApiPropertyOptional({ description: 'Notified when the job finishes', format: 'uri' })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  callbackUrl?: string;
}
