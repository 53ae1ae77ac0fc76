import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { type CallerIdentity, callerPrincipal } from './caller';

/** Who asked for something, as records show it (never a credential). */
export class CallerIdentityDto {
  @ApiProperty({ enum: ['api-key', 'oidc'] }) kind!: 'api-key' | 'oidc';
  @ApiProperty({
    description: 'The caller as signed payloads name it (annotation dev.wasm-signer.requested-by): api-key:<id> or oidc:<issuer>#<subject>',
    example: 'api-key:bootstrap',
  })
  principal!: string;
  @ApiPropertyOptional({ description: 'API key id' }) keyId?: string;
  @ApiPropertyOptional({ description: 'API key name' }) name?: string;
  @ApiPropertyOptional({ description: 'OIDC token issuer' }) issuer?: string;
  @ApiPropertyOptional({ description: 'OIDC token subject' }) subject?: string;
  @ApiPropertyOptional({ description: 'The trusted-publisher rule that admitted the token' }) rule?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'The token claims the rule matched' }) claims?: Record<string, string>;

  static from(identity: CallerIdentity): CallerIdentityDto {
    return { principal: callerPrincipal(identity), ...identity };
  }
}
