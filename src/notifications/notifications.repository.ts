import { Inject, Injectable } from '@nestjs/common';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db, type Tx } from '../persistence/database.js';
import { notifications } from '../persistence/schema.js';

export type NotificationRow = typeof notifications.$inferSelect;
export type NewNotificationRow = typeof notifications.$inferInsert;

function unreadQuery(db: Db) {
  return db
    .select({ row: notifications, total: sql<number>`count(*) over ()` })
    .from(notifications)
    .where(
      and(
        eq(notifications.userId, sql.placeholder('userId')),
        eq(notifications.organizationId, sql.placeholder('organizationId')),
        isNull(notifications.readAt),
      ),
    )
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(sql.placeholder('limit'))
    .prepare('notifications_unread');
}

/** The `notifications` table: one row per recipient. */
@Injectable()
export class NotificationsRepository {
  /** The connect-time sync query, built once (drizzle's builder allocates tens of KiB per build). */
  private readonly unreadStatement: ReturnType<typeof unreadQuery>;

  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {
    this.unreadStatement = unreadQuery(database.db);
  }

  async insertMany(rows: NewNotificationRow[], tx: Tx): Promise<void> {
    for (let i = 0; i < rows.length; i += 500)
      await tx.insert(notifications).values(rows.slice(i, i + 500));
  }

  /**
   * Marks the recipient's own notification read. `changed` is false when it was read before (the
   * first readAt stays); undefined when it is not this user's (or does not exist).
   */
  async markRead(
    id: string,
    organizationId: string,
    userId: string,
  ): Promise<{ readAt: Date; changed: boolean } | undefined> {
    const own = and(
      eq(notifications.id, id),
      eq(notifications.organizationId, organizationId),
      eq(notifications.userId, userId),
    );
    const [updated] = await this.database.db
      .update(notifications)
      .set({ readAt: sql`now()` })
      .where(and(own, isNull(notifications.readAt)))
      .returning({ readAt: notifications.readAt });
    if (updated?.readAt) return { readAt: new Date(updated.readAt), changed: true };
    const [existing] = await this.database.db
      .select({ readAt: notifications.readAt })
      .from(notifications)
      .where(own)
      .limit(1);
    return existing?.readAt ? { readAt: new Date(existing.readAt), changed: false } : undefined;
  }

  /** The newest `limit` unread notifications and the total unread count, in one query. */
  async unread(
    organizationId: string,
    userId: string,
    limit: number,
  ): Promise<{ rows: NotificationRow[]; total: number }> {
    const result = await this.unreadStatement.execute({ organizationId, userId, limit });
    return { rows: result.map((r) => r.row), total: Number(result[0]?.total ?? 0) };
  }
}
