import { Inject, Injectable } from '@nestjs/common';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Tx } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { notifications } from '../persistence/schema.js';
import type { NewNotificationRow, NotificationRow } from './notification-row.js';
import { UnreadSyncLoader } from './unread-sync-loader.js';

export type { NewNotificationRow, NotificationRow } from './notification-row.js';

/** The `notifications` table: one row per recipient. */
@Injectable()
export class NotificationsRepository {
  /** Connect storms' sync reads, one statement per batch (unread-sync-loader.ts). */
  private readonly unreadBatch: UnreadSyncLoader;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {
    this.unreadBatch = new UnreadSyncLoader(database);
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
    return this.errors.run('notification-read', async () => {
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
    });
  }

  /**
   * The newest `limit` unread notifications and the total unread count; the sockets connecting at
   * the same moment share one query.
   */
  unread(
    organizationId: string,
    userId: string,
    limit: number,
  ): Promise<{ rows: NotificationRow[]; total: number }> {
    return this.errors.run('notification-sync', () =>
      this.unreadBatch.load(organizationId, userId, limit),
    );
  }
}
