import { Injectable } from '@nestjs/common';
import type { AuthenticatedUser } from '../protocol/models.js';

/**
 * A check a verified token must also pass (e.g. revocation). Throw an AppError to refuse it.
 */
export interface CredentialCheck {
  readonly name: string;
  check(user: AuthenticatedUser): Promise<void>;
}

/**
 * The checks every credential passes after its signature verified: at the handshake, at
 * `auth:refresh` and in the HTTP API's guard. Feature modules register theirs at start (the way
 * immich injects its auth function), so `auth/` depends on none of them.
 */
@Injectable()
export class CredentialChecks {
  private readonly checks: CredentialCheck[] = [];

  register(check: CredentialCheck): void {
    this.checks.push(check);
  }

  /** Runs every check in registration order; the first refusal throws. */
  async assert(user: AuthenticatedUser): Promise<void> {
    for (const c of this.checks) await c.check(user);
  }
}
