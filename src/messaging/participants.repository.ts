import { Inject, Injectable } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
import { queryRows, type Executor } from './db-rows.js';

/** A conversation in which the user has not confirmed everything (`last_seq > delivered_seq`). */
export interface LaggingConversation {
  conversationId: string;
  deliveredSeq: number;
  lastSeq: number;
}

/** Outcome of a cursor move: the message's seq and sender, and whether the cursor went up. */
export interface CursorMove {
  seq: number;
  senderId: string;
  moved: boolean;
}

/** `conversation_participants`: membership and the delivered/read watermarks (seq numbers). */
@Injectable()
export class ParticipantsRepository {
  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {}

  async insertMany(
    conversationId: string,
    organizationId: string,
    userIds: string[],
    ex: Executor,
  ): Promise<void> {
    if (userIds.length === 0) return;
    const values = sql.join(
      userIds.map((u) => sql`(${conversationId}, ${u}, ${organizationId})`),
      sql`, `,
    );
    await ex.execute(
      sql`INSERT INTO conversation_participants (conversation_id, user_id, organization_id) VALUES ${values}
          ON CONFLICT (conversation_id, user_id) DO NOTHING`,
    );
  }

  /** Every conversation of the user (in its organization) with messages above the delivered cursor. */
  lagging(userId: string, organizationId: string): Promise<LaggingConversation[]> {
    return this.laggingLookups.load({ userId, organizationId });
  }

  /** The connect-time lookups of a storm, one query per batch (micro-batcher.ts). */
  private readonly laggingLookups = new MicroBatcher<
    { userId: string; organizationId: string },
    LaggingConversation[]
  >(async (batch) => {
    const users = sql.join(
      [...new Map(batch.map((b) => [`${b.organizationId}\u0000${b.userId}`, b])).values()].map(
        (b) => sql`(${b.userId}, ${b.organizationId})`,
      ),
      sql`, `,
    );
    const rows = await queryRows<{
      user_id: string;
      organization_id: string;
      conversation_id: string;
      delivered_seq: number;
      last_seq: number;
    }>(
      this.database.db,
      sql`SELECT p.user_id, p.organization_id, p.conversation_id, p.delivered_seq, c.last_seq
          FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id
          WHERE (p.user_id, p.organization_id) IN (${users}) AND c.last_seq > p.delivered_seq`,
    );
    const byUser = new Map<string, LaggingConversation[]>();
    for (const r of rows) {
      const key = `${r.organization_id}\u0000${r.user_id}`;
      const list = byUser.get(key) ?? [];
      list.push({
        conversationId: r.conversation_id,
        deliveredSeq: Number(r.delivered_seq),
        lastSeq: Number(r.last_seq),
      });
      byUser.set(key, list);
    }
    // Each caller gets a list of its own (two sockets of one user may be in one batch).
    return batch.map((b) => [...(byUser.get(`${b.organizationId}\u0000${b.userId}`) ?? [])]);
  });

  /**
   * Moves the user's delivered cursor (and, for `read`, the read cursor too) up to the seq of
   * `messageId` in one statement; never down. Undefined when the message is not in the
   * conversation.
   */
  async advance(
    conversationId: string,
    userId: string,
    messageId: string,
    kind: 'delivered' | 'read',
  ): Promise<CursorMove | undefined> {
    const update =
      kind === 'delivered'
        ? sql`UPDATE conversation_participants p SET delivered_seq = m.seq FROM m
              WHERE p.conversation_id = ${conversationId} AND p.user_id = ${userId} AND p.delivered_seq < m.seq
              RETURNING p.user_id`
        : sql`UPDATE conversation_participants p SET read_seq = m.seq, delivered_seq = GREATEST(p.delivered_seq, m.seq) FROM m
              WHERE p.conversation_id = ${conversationId} AND p.user_id = ${userId} AND p.read_seq < m.seq
              RETURNING p.user_id`;
    const rows = await queryRows<{ seq: number; sender_id: string; moved: number }>(
      this.database.db,
      sql`WITH m AS (SELECT seq, sender_id FROM messages WHERE id = ${messageId} AND conversation_id = ${conversationId}),
               u AS (${update})
          SELECT m.seq, m.sender_id, (SELECT count(*) FROM u)::int AS moved FROM m`,
    );
    const r = rows[0];
    return r
      ? { seq: Number(r.seq), senderId: r.sender_id, moved: Number(r.moved) > 0 }
      : undefined;
  }

  async cursors(
    conversationId: string,
    userId: string,
  ): Promise<{ deliveredSeq: number; readSeq: number } | undefined> {
    const rows = await queryRows<{ delivered_seq: number; read_seq: number }>(
      this.database.db,
      sql`SELECT delivered_seq, read_seq FROM conversation_participants WHERE conversation_id = ${conversationId} AND user_id = ${userId}`,
    );
    return rows[0]
      ? { deliveredSeq: Number(rows[0].delivered_seq), readSeq: Number(rows[0].read_seq) }
      : undefined;
  }
}
