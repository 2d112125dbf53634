import { Inject, Injectable } from '@nestjs/common';
import { gt, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { revocations } from '../persistence/schema.js';
import type { UserKey } from '../protocol/user-key.js';

export interface RevocationRow extends UserKey {
  revokedAt: Date;
}

/**
 * The `revocations` table: one row per user of an organization (§12.1), the latest revocation
 * instant (database clock). Failures leave as AppErrors (DatabaseErrors).
 */
@Injectable()
export class RevocationsRepository {
  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {}

  /** Records a revocation now (database clock, so every node agrees) and returns its instant. */
  async revoke(user: UserKey): Promise<Date> {
    return this.errors.run('revocation-write', async () => {
      const [row] = await this.database.db
        .insert(revocations)
        .values({ organizationId: user.organizationId, userId: user.userId, revokedAt: sql`now()` })
        .onConflictDoUpdate({
          target: [revocations.organizationId, revocations.userId],
          set: { revokedAt: sql`greatest(${revocations.revokedAt}, excluded.revoked_at)` },
        })
        .returning({ revokedAt: revocations.revokedAt });
      return new Date(row.revokedAt);
    });
  }

  /** Rows revoked after `since` (all rows without it). */
  async since(since: Date | undefined): Promise<RevocationRow[]> {
    return this.errors.run('revocation-read', async () => {
      const q = this.database.db
        .select({
          organizationId: revocations.organizationId,
          userId: revocations.userId,
          revokedAt: revocations.revokedAt,
        })
        .from(revocations);
      const rows = since ? await q.where(gt(revocations.revokedAt, since)) : await q;
      return rows.map((r) => ({
        organizationId: r.organizationId,
        userId: r.userId,
        revokedAt: new Date(r.revokedAt),
      }));
    });
  }
}
