import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class CreateProbeDto {
  @ApiPropertyOptional({
    description: 'How long each step holds its worker, in milliseconds: exercises draining and stalled-job recovery',
    minimum: 0,
    maximum: 60_000,
    default: 0,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(60_000)
  holdMs?: number;
}
