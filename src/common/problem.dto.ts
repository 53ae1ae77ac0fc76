import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** RFC 9457 problem details as documented in the OpenAPI spec (media type application/problem+json). */
export class ProblemDto {
  @ApiProperty({ example: 'https://wasm-signer.dev/problems/validation-failed' }) type!: string;
  @ApiProperty({ example: 'The request is not valid' }) title!: string;
  @ApiProperty({ example: 400 }) status!: number;
  @ApiProperty({ example: 'VALIDATION_FAILED', description: 'Stable machine-readable code' }) code!: string;
  @ApiPropertyOptional() detail?: string;
  @ApiPropertyOptional() instance?: string;
  @ApiPropertyOptional({ description: 'ID of the request, also in the X-Request-Id header and the logs' }) requestId?: string;
}
