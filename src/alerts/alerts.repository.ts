import { Inject, Injectable } from '@nestjs/common';
import { and, asc, eq, gt, inArray, isNull, or, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db, type Tx } from '../persistence/database.js';
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

/** The `alerts` table. */
@Injectable()
export class AlertsRepository {
  /** The connect-time replay query, built once (drizzle's builder allocates tens of KiB per build). */
  private readonly activeEmergenciesStatement: ReturnType<typeof activeEmergenciesQuery>;

  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {
    this.activeEmergenciesStatement = activeEmergenciesQuery(database.db);
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.database.db.transaction(fn);
  }

  async insert(row: NewAlertRow, tx: Tx): Promise<AlertRow> {
    const [created] = await tx.insert(alerts).values(row).returning();
    return created;
  }

  async find(id: string): Promise<AlertRow | undefined> {
    const [row] = await this.database.db.select().from(alerts).where(eq(alerts.id, id)).limit(1);
    return row;
  }

  async findMany(ids: string[]): Promise<AlertRow[]> {
    if (ids.length === 0) return [];
    return this.database.db.select().from(alerts).where(inArray(alerts.id, ids));
  }

  /** Sets resolvedAt once; undefined when it was resolved already (or does not exist). */
  async resolve(id: string, at: Date): Promise<AlertRow | undefined> {
    const [row] = await this.database.db
      .update(alerts)
      .set({ resolvedAt: at })
      .where(and(eq(alerts.id, id), isNull(alerts.resolvedAt)))
      .returning();
    return row;
  }

  /** Active emergency alerts of the organization this user has not acknowledged, oldest first. */
  async activeEmergenciesUnacknowledgedBy(
    organizationId: string,
    userId: string,
  ): Promise<AlertRow[]> {
    const rows = await this.activeEmergenciesStatement.execute({ organizationId, userId });
    return rows.map((r) => r.alert);
  }

  /** Organizations with an active emergency alert (a cheap check before claiming re-sends). */
  async organizationsWithActiveEmergency(): Promise<string[]> {
    const rows = await this.database.db
      .selectDistinct({ organizationId: alerts.organizationId })
      .from(alerts)
      .where(and(eq(alerts.kind, 'emergency'), isActive));
    return rows.map((r) => r.organizationId);
  }

  /** Whether the alert is active now (database clock). */
  async isActive(id: string): Promise<boolean> {
    const rows = await this.database.db
      .select({ id: alerts.id })
      .from(alerts)
      .where(and(eq(alerts.id, id), isActive))
      .limit(1);
    return rows.length > 0;
  }
}
