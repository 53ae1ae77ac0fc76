import { Injectable } from '@nestjs/common';

/** Refuses a callback URL (throws a problem the caller sees) or accepts it. */
export type CallbackUrlCheck = (url: string) => Promise<void>;

/**
 * Whether a job may notify a caller-given callback URL. The request services ask here before they accept
 * a job (before any upload byte is pushed); the capability that delivers callbacks (webhooks) registers
 * the check at start, so that neither the engine nor the request services import it.
 */
@Injectable()
export class CallbackUrlPolicy {
  private check: CallbackUrlCheck | undefined;

  register(check: CallbackUrlCheck): void {
    if (this.check) throw new Error('a callback URL policy is already registered');
    this.check = check;
  }

  async assertAllowed(url: string): Promise<void> {
    // Fail closed: without a registered policy no callback URL is accepted.
    if (!this.check) throw new Error('no callback URL policy is registered: callback URLs cannot be accepted');
    await this.check(url);
  }
}
