import { Inject, Injectable, Optional } from '@nestjs/common';
import { and, eq, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import type { Executor } from '../persistence/db-rows.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
import { participants } from '../persistence/schema.js';

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

/**
 * The connect-time lookups of a storm in one statement of a fixed text: the users travel as two
 * arrays ($1 user ids, $2 their organizations).
 */
const LAGGING_SQL = `SELECT p.user_id AS "userId", p.organization_id AS "organizationId",
       p.conversation_id AS "conversationId", p.delivered_seq AS "deliveredSeq", c.last_seq AS "lastSeq"
  FROM conversation_participants p JOIN conversations c ON c.id = p.conversation_id
 WHERE (p.user_id, p.organization_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
   AND c.last_seq > p.delivered_seq`;

/**
 * A receipt: moves the cursor up to the seq of message $3 of conversation $1 for user $2, never
 * down, and answers the message's seq and sender (no row: not a message of the conversation).
 */
const advanceSql = (set: string, guard: string) => `WITH m AS (
    SELECT seq, sender_id FROM messages WHERE id = $3 AND conversation_id = $1),
  u AS (UPDATE conversation_participants p SET ${set} FROM m
         WHERE p.conversation_id = $1 AND p.user_id = $2 AND ${guard} RETURNING p.user_id)
  SELECT m.seq, m.sender_id AS "senderId", (SELECT count(*) FROM u)::int AS moved FROM m`;
const ADVANCE_SQL = {
  delivered: advanceSql('delivered_seq = m.seq', 'p.delivered_seq < m.seq'),
  read: advanceSql(
    'read_seq = m.seq, delivered_seq = GREATEST(p.delivered_seq, m.seq)',
    'p.read_seq < m.seq',
  ),
} as const;

function cursorsQuery(db: Db) {
  return db
    .select({ deliveredSeq: participants.deliveredSeq, readSeq: participants.readSeq })
    .from(participants)
    .where(
      and(
        eq(participants.conversationId, sql.placeholder('conversationId')),
        eq(participants.userId, sql.placeholder('userId')),
      ),
    )
    .prepare('participants_cursors');
}

/** `conversation_participants`: membership and the delivered/read watermarks (seq numbers). */
@Injectable()
export class ParticipantsRepository {
  private readonly cursorsStatement: ReturnType<typeof cursorsQuery>;
  private readonly errors: DatabaseErrors;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @Optional() errors?: DatabaseErrors,
  ) {
    this.cursorsStatement = cursorsQuery(database.db);
    this.errors = errors ?? new DatabaseErrors();
  }

  async insertMany(
    conversationId: string,
    organizationId: string,
    userIds: string[],
    tx: Executor = this.database.db,
  ): Promise<void> {
    if (userIds.length === 0) return;
    await this.errors.run('conversation-create', () =>
      tx
        .insert(participants)
        .values(userIds.map((userId) => ({ conversationId, userId, organizationId })))
        .onConflictDoNothing({ target: [participants.conversationId, participants.userId] }),
    );
  }

  /** Every conversation of the user (in its organization) with messages above the delivered cursor. */
  lagging(userId: string, organizationId: string): Promise<LaggingConversation[]> {
    return this.errors.run('message-replay', () =>
      this.laggingLookups.load({ userId, organizationId }),
    );
  }

  /** The connect-time lookups of a storm, one query per batch (micro-batcher.ts). */
  private readonly laggingLookups = new MicroBatcher<
    { userId: string; organizationId: string },
    LaggingConversation[]
  >(async (batch) => {
    const users = [
      ...new Map(batch.map((b) => [`${b.organizationId}\u0000${b.userId}`, b])).values(),
    ];
    const rows = await this.database.prepared<{
      userId: string;
      organizationId: string;
      conversationId: string;
      deliveredSeq: number;
      lastSeq: number;
    }>('participants_lagging', LAGGING_SQL, [
      users.map((u) => u.userId),
      users.map((u) => u.organizationId),
    ]);
    const byUser = new Map<string, LaggingConversation[]>();
    for (const r of rows) {
      const key = `${r.organizationId}\u0000${r.userId}`;
      const list = byUser.get(key) ?? [];
      list.push({
        conversationId: r.conversationId,
        deliveredSeq: Number(r.deliveredSeq),
        lastSeq: Number(r.lastSeq),
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
    const rows = await this.errors.run('receipt', () =>
      this.database.prepared<{ seq: number; senderId: string; moved: number }>(
        `participants_advance_${kind}`,
        ADVANCE_SQL[kind],
        [conversationId, userId, messageId],
      ),
    );
    const r = rows[0];
    return r ? { seq: Number(r.seq), senderId: r.senderId, moved: Number(r.moved) > 0 } : undefined;
  }

  async cursors(
    conversationId: string,
    userId: string,
  ): Promise<{ deliveredSeq: number; readSeq: number } | undefined> {
    const rows = await this.errors.run('receipt', () =>
      this.cursorsStatement.execute({ conversationId, userId }),
    );
    return rows[0]
      ? { deliveredSeq: Number(rows[0].deliveredSeq), readSeq: Number(rows[0].readSeq) }
      : undefined;
  }
}
