import { Inject, Injectable } from '@nestjs/common';
import { and, asc, eq, gt, inArray, isNotNull, isNull, or, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db, type Tx } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
import { alertRecipients, alerts } from '../persistence/schema.js';

export type AlertRow = typeof alerts.$inferSelect;
export type NewAlertRow = typeof alerts.$inferInsert;

/** Active = not resolved and not expired (database clock). */
export const isActive = and(
  isNull(alerts.resolvedAt),
  or(isNull(alerts.expiresAt), gt(alerts.expiresAt, sql`now()`)),
);

function activeEmergenciesQuery(db: Db) {
  return db
    .select({ alert: alerts })
    .from(alerts)
    .leftJoin(
      alertRecipients,
      and(
        eq(alertRecipients.alertId, alerts.id),
        eq(alertRecipients.userId, sql.placeholder('userId')),
      ),
    )
    .where(
      and(
        eq(alerts.organizationId, sql.placeholder('organizationId')),
        eq(alerts.kind, 'emergency'),
        isActive,
        isNull(alertRecipients.acknowledgedAt),
      ),
    )
    .orderBy(asc(alerts.createdAt), asc(alerts.id))
    .prepare('alerts_active_emergencies_unacknowledged');
}

/**
 * The `alerts` table. Statements outside a transaction fail as AppErrors (DatabaseErrors); those
 * given a `tx` leave the mapping to the TransactionRunner.
 */
@Injectable()
export class AlertsRepository {
  /** The connect-time replay query, built once (drizzle's builder allocates tens of KiB per build). */
  private readonly activeEmergenciesStatement: ReturnType<typeof activeEmergenciesQuery>;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {
    this.activeEmergenciesStatement = activeEmergenciesQuery(database.db);
  }

  async insert(row: NewAlertRow, tx: Tx): Promise<AlertRow> {
    const [created] = await tx.insert(alerts).values(row).returning();
    return created;
  }

  async find(id: string): Promise<AlertRow | undefined> {
    const [row] = await this.errors.run('alert-read', () =>
      this.database.db.select().from(alerts).where(eq(alerts.id, id)).limit(1),
    );
    return row;
  }

  async findMany(ids: string[]): Promise<AlertRow[]> {
    if (ids.length === 0) return [];
    return this.errors.run('alert-read', () =>
      this.database.db.select().from(alerts).where(inArray(alerts.id, ids)),
    );
  }

  /** Sets resolvedAt once; undefined when it was resolved already (or does not exist). */
  async resolve(id: string, at: Date): Promise<AlertRow | undefined> {
    const [row] = await this.errors.run('alert-resolve', () =>
      this.database.db
        .update(alerts)
        .set({ resolvedAt: at })
        .where(and(eq(alerts.id, id), isNull(alerts.resolvedAt)))
        .returning(),
    );
    return row;
  }

  /** Active emergency alerts of the organization this user has not acknowledged, oldest first. */
  activeEmergenciesUnacknowledgedBy(organizationId: string, userId: string): Promise<AlertRow[]> {
    return this.replayLookups.load({ organizationId, userId });
  }

  /**
   * The connect-time lookups of a storm, grouped (micro-batcher.ts): one query for the active
   * emergency alerts of the batch's organizations (usually none: done), then one for which of
   * the batch's users acknowledged them.
   */
  private readonly replayLookups = new MicroBatcher<
    { organizationId: string; userId: string },
    AlertRow[]
  >((batch) => this.errors.run('alert-replay', () => this.replayBatch(batch)));

  private async replayBatch(
    batch: Array<{ organizationId: string; userId: string }>,
  ): Promise<AlertRow[][]> {
    if (batch.length === 1) {
      const rows = await this.activeEmergenciesStatement.execute(batch[0]);
      return [rows.map((r) => r.alert)];
    }
    const active = await this.database.db
      .select()
      .from(alerts)
      .where(
        and(
          inArray(alerts.organizationId, [...new Set(batch.map((b) => b.organizationId))]),
          eq(alerts.kind, 'emergency'),
          isActive,
        ),
      )
      .orderBy(asc(alerts.createdAt), asc(alerts.id));
    if (active.length === 0) return batch.map(() => []);
    const acknowledged = new Set(
      (
        await this.database.db
          .select({ alertId: alertRecipients.alertId, userId: alertRecipients.userId })
          .from(alertRecipients)
          .where(
            and(
              inArray(
                alertRecipients.alertId,
                active.map((a) => a.id),
              ),
              inArray(alertRecipients.userId, [...new Set(batch.map((b) => b.userId))]),
              isNotNull(alertRecipients.acknowledgedAt),
            ),
          )
      ).map((r) => `${r.alertId}\u0000${r.userId}`),
    );
    return batch.map(({ organizationId, userId }) =>
      active.filter(
        (a) => a.organizationId === organizationId && !acknowledged.has(`${a.id}\u0000${userId}`),
      ),
    );
  }

  /** Organizations with an active emergency alert (a cheap check before claiming re-sends). */
  async organizationsWithActiveEmergency(): Promise<string[]> {
    const rows = await this.errors.run('alert-read', () =>
      this.database.db
        .selectDistinct({ organizationId: alerts.organizationId })
        .from(alerts)
        .where(and(eq(alerts.kind, 'emergency'), isActive)),
    );
    return rows.map((r) => r.organizationId);
  }

  /** Whether the alert is active now (database clock). */
  async isActive(id: string): Promise<boolean> {
    const rows = await this.errors.run('alert-read', () =>
      this.database.db
        .select({ id: alerts.id })
        .from(alerts)
        .where(and(eq(alerts.id, id), isActive))
        .limit(1),
    );
    return rows.length > 0;
  }
}
