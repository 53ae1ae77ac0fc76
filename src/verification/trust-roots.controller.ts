import { Controller, Get } from '@nestjs/common';
import { Authorize } from '../access/authorize';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { TrustRootListDto } from './trust-root.dto';
import { TrustRoots } from './trust-roots';

@ApiTags('verifications')
@Authorize('verifications:write')
@Controller('v1/trust-roots')
export class TrustRootsController {
  constructor(private readonly trustRoots: TrustRoots) {}

  @Get()
  @ApiOperation({
    summary: 'The trust roots verification requests can name',
    description:
      '`public-good` (Sigstore, through TUF: described once something has used it; `stale` while TUF cannot be reached and its last good copy stands in), ' +
      '`default` (SIGSTORE_TRUSTED_ROOT_FILE, else public-good) ' +
      'and those of TRUST_ROOTS, with their certificate authorities, transparency logs (with log IDs), CT logs and timestamp authorities.',
  })
  @ApiOkResponse({ type: TrustRootListDto })
  async list(): Promise<TrustRootListDto> {
    return { trustRoots: await this.trustRoots.describe() };
  }
}
