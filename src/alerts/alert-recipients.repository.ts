import { Inject, Injectable } from '@nestjs/common';
import { and, count, eq, isNull, lte, or, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Tx } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
import { alertRecipients, alerts } from '../persistence/schema.js';
import { isActive, type AlertRow } from './alerts.repository.js';

/**
 * Records a send to these (alert, user) pairs ($1 alert ids, $2 user ids, one pair per index, no
 * pair twice): first delivery time, last send time and count. One fixed-text statement whatever
 * the number of pairs (a storm's replays and an alert's initial deliveries come in thousands).
 */
const MARK_SENT_SQL = `INSERT INTO alert_recipients
    (alert_id, user_id, targeted, delivered_at, last_sent_at, delivery_count)
  SELECT a, u, 0, now(), now(), 1 FROM unnest($1::text[], $2::text[]) AS t(a, u)
  ON CONFLICT (alert_id, user_id) DO UPDATE
    SET delivered_at = coalesce(alert_recipients.delivered_at, now()),
        last_sent_at = now(),
        delivery_count = alert_recipients.delivery_count + 1
  RETURNING alert_id AS "alertId", user_id AS "userId", delivery_count AS "deliveryCount"`;

export interface Sent {
  alertId: string;
  userId: string;
  deliveryCount: number;
}

/**
 * The `alert_recipients` table: per recipient, when the alert was first delivered, last sent and
 * acknowledged. Every time is the database clock, so several nodes agree on "due". Statements
 * outside a transaction fail as AppErrors (DatabaseErrors).
 */
@Injectable()
export class AlertRecipientsRepository {
  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {}

  /**
   * `markSent` for the connect-time replays of a storm, grouped into one statement
   * (micro-batcher.ts). A pair named by two sockets of one user is written once (a statement may
   * not update a row twice); both get its row.
   */
  private readonly replaySends = new MicroBatcher<
    Array<{ alertId: string; userId: string }>,
    Sent[]
  >(async (batch) => {
    const key = (p: { alertId: string; userId: string }) => `${p.alertId}\u0000${p.userId}`;
    const unique = [...new Map(batch.flat().map((p) => [key(p), p])).values()];
    const byKey = new Map((await this.markSent(unique)).map((s) => [key(s), s]));
    return batch.map((pairs) =>
      pairs.map((p) => byKey.get(key(p))).filter((s): s is Sent => s !== undefined),
    );
  });

  /** `markSent` of one socket's replay, grouped with the other replays of the moment. */
  markReplayed(pairs: Array<{ alertId: string; userId: string }>): Promise<Sent[]> {
    return pairs.length === 0 ? Promise.resolve([]) : this.replaySends.load(pairs);
  }

  /**
   * Recipients known at creation (`targeted` = 1) of a targeted alert (ids and roles), in the
   * alert's transaction: a recipient's acknowledgement must find its row, so the rows commit with
   * the alert. One statement whatever their number (the ids travel as one array parameter).
   * last_sent_at: no re-send is due before one interval (re-sends claim by last_sent_at).
   */
  async insertTargets(alertId: string, userIds: readonly string[], tx: Tx): Promise<void> {
    if (userIds.length === 0) return;
    await tx.execute(
      sql`INSERT INTO alert_recipients (alert_id, user_id, targeted, last_sent_at)
          SELECT ${alertId}, u, 1, now() FROM unnest(${sql.param(userIds)}::text[]) AS u
          ON CONFLICT (alert_id, user_id) DO UPDATE SET targeted = 1`,
    );
  }

  /**
   * An emergency's recipients: every member of the organization, copied inside PostgreSQL
   * (INSERT … SELECT from `members`, read-only here; MembersRepository owns that table) instead
   * of 10,000 ids read out and sent back in. Written right after the alert's commit, while the
   * node fans out (AlertCreation): a member may acknowledge before its row exists (that path
   * inserts it), and a row written first by a replay or an acknowledgement is marked targeted.
   */
  async insertMembersAsTargets(alertId: string, organizationId: string): Promise<void> {
    await this.errors.run('alert-recipients', () =>
      this.database.db.execute(
        sql`INSERT INTO alert_recipients (alert_id, user_id, targeted, last_sent_at)
            SELECT ${alertId}, m.user_id, 1, now() FROM members m
             WHERE m.organization_id = ${organizationId}
            ON CONFLICT (alert_id, user_id) DO UPDATE SET targeted = 1`,
      ),
    );
  }

  /**
   * Records a send to these (alert, user) pairs: first delivery time, last send time and count.
   * A user who was not a recipient yet (connected later, or connected in a target room without
   * being a known member) becomes one.
   */
  async markSent(pairs: Array<{ alertId: string; userId: string }>): Promise<Sent[]> {
    if (pairs.length === 0) return [];
    return this.errors.run('alert-delivery', () =>
      this.database.prepared<Sent>('alert_recipients_mark_sent', MARK_SENT_SQL, [
        pairs.map((p) => p.alertId),
        pairs.map((p) => p.userId),
      ]),
    );
  }

  /**
   * Claims the re-sends that are due for these users of the organization, atomically: active
   * emergency alerts they have not acknowledged, last sent at least `intervalMs` ago. The UPDATE
   * moves last_sent_at, so when several nodes claim at once each recipient is re-sent once per
   * interval, not once per node.
   */
  async claimDue(organizationId: string, userIds: string[], intervalMs: number): Promise<Sent[]> {
    if (userIds.length === 0) return [];
    // The users travel as one array parameter (an IN list built per call cost the storm's
    // re-sends tens of milliseconds in drizzle's builder for thousands of users).
    return this.errors.run('alert-redelivery', () =>
      this.database.db
        .update(alertRecipients)
        .set({
          lastSentAt: sql`now()`,
          deliveredAt: sql`coalesce(${alertRecipients.deliveredAt}, now())`,
          deliveryCount: sql`${alertRecipients.deliveryCount} + 1`,
        })
        .from(alerts)
        .where(
          and(
            eq(alerts.id, alertRecipients.alertId),
            eq(alerts.organizationId, organizationId),
            eq(alerts.kind, 'emergency'),
            isActive,
            isNull(alertRecipients.acknowledgedAt),
            sql`${alertRecipients.userId} = ANY(${sql.param(userIds)}::text[])`,
            or(
              isNull(alertRecipients.lastSentAt),
              lte(
                alertRecipients.lastSentAt,
                sql`now() - (${intervalMs}::int * interval '1 millisecond')`,
              ),
            ),
          ),
        )
        .returning({
          alertId: alertRecipients.alertId,
          userId: alertRecipients.userId,
          deliveryCount: alertRecipients.deliveryCount,
        }),
    );
  }

  /**
   * Records the acknowledgement once. `first` is false when it was acknowledged before (the first
   * time is returned); undefined when the user is not a recipient.
   */
  async acknowledge(
    alertId: string,
    userId: string,
  ): Promise<{ acknowledgedAt: Date; first: boolean } | undefined> {
    return this.errors.run('alert-acknowledge', async () => {
      const mine = and(eq(alertRecipients.alertId, alertId), eq(alertRecipients.userId, userId));
      const [updated] = await this.database.db
        .update(alertRecipients)
        .set({
          acknowledgedAt: sql`now()`,
          deliveredAt: sql`coalesce(${alertRecipients.deliveredAt}, now())`,
        })
        .where(and(mine, isNull(alertRecipients.acknowledgedAt)))
        .returning({ acknowledgedAt: alertRecipients.acknowledgedAt });
      if (updated?.acknowledgedAt)
        return { acknowledgedAt: new Date(updated.acknowledgedAt), first: true };
      const [row] = await this.database.db
        .select({ acknowledgedAt: alertRecipients.acknowledgedAt })
        .from(alertRecipients)
        .where(mine)
        .limit(1);
      return row?.acknowledgedAt
        ? { acknowledgedAt: new Date(row.acknowledgedAt), first: false }
        : undefined;
    });
  }

  /** An organization member acknowledging an active emergency alert before it reached them. */
  async insertAcknowledged(alertId: string, userId: string): Promise<void> {
    return this.errors.run('alert-acknowledge', async () => {
      await this.database.db
        .insert(alertRecipients)
        .values({
          alertId,
          userId,
          targeted: 0,
          deliveredAt: sql`now()`,
          acknowledgedAt: sql`now()`,
          lastSentAt: sql`now()`,
          deliveryCount: 0,
        })
        .onConflictDoNothing();
    });
  }

  async userIds(alertId: string): Promise<string[]> {
    return this.errors.run('alert-read', async () => {
      const rows = await this.database.db
        .select({ userId: alertRecipients.userId })
        .from(alertRecipients)
        .where(eq(alertRecipients.alertId, alertId));
      return rows.map((r) => r.userId);
    });
  }

  /**
   * Integer counts: recipients at creation (§12.4: the alert's own count, stored with it; older
   * alerts without one count their targeted rows), those delivered, those acknowledged (late
   * joiners included in these two).
   */
  async counts(
    alert: Pick<AlertRow, 'id' | 'targeted'>,
  ): Promise<{ targeted: number; delivered: number; acknowledged: number }> {
    return this.errors.run('alert-read', async () => {
      const [row] = await this.database.db
        .select({
          targeted: count(sql`CASE WHEN ${alertRecipients.targeted} = 1 THEN 1 END`),
          delivered: count(alertRecipients.deliveredAt),
          acknowledged: count(alertRecipients.acknowledgedAt),
        })
        .from(alertRecipients)
        .where(eq(alertRecipients.alertId, alert.id));
      return {
        targeted: alert.targeted ?? Number(row?.targeted ?? 0),
        delivered: Number(row?.delivered ?? 0),
        acknowledged: Number(row?.acknowledged ?? 0),
      };
    });
  }
}
