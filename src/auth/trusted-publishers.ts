import { Injectable } from '@nestjs/common';
import { accessProblems } from '../access/access-problems';
import type { Caller } from '../access/caller';

/**
 * CI and workload OIDC tokens ("trusted publishers"): a token from an allowed issuer, for this service's
 * audience, admitted by a configured rule that maps its claims to scopes and repository patterns.
 */
@Injectable()
export class TrustedPublishers {
  // eslint-disable-next-line @typescript-eslint/require-await
  async authenticate(_token: string): Promise<Caller> {
    throw accessProblems.unauthenticated('TOKEN_ISSUER_NOT_TRUSTED', 'no trusted publishers are configured (TRUSTED_PUBLISHERS_FILE)');
  }
}
