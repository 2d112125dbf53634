import { Inject, Injectable } from '@nestjs/common';
import { gt, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { revocations } from '../persistence/schema.js';

export interface RevocationRow {
  userId: string;
  revokedAt: Date;
}

/** The `revocations` table: one row per user, the latest revocation instant (database clock). */
@Injectable()
export class RevocationsRepository {
  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {}

  /** Records a revocation now (database clock, so every node agrees) and returns its instant. */
  async revoke(userId: string, organizationId: string): Promise<Date> {
    const [row] = await this.database.db
      .insert(revocations)
      .values({ userId, organizationId, revokedAt: sql`now()` })
      .onConflictDoUpdate({
        target: revocations.userId,
        set: {
          organizationId,
          revokedAt: sql`greatest(${revocations.revokedAt}, excluded.revoked_at)`,
        },
      })
      .returning({ revokedAt: revocations.revokedAt });
    return new Date(row.revokedAt);
  }

  /** Rows revoked after `since` (all rows without it). */
  async since(since: Date | undefined): Promise<RevocationRow[]> {
    const q = this.database.db
      .select({ userId: revocations.userId, revokedAt: revocations.revokedAt })
      .from(revocations);
    const rows = since ? await q.where(gt(revocations.revokedAt, since)) : await q;
    return rows.map((r) => ({ userId: r.userId, revokedAt: new Date(r.revokedAt) }));
  }
}
