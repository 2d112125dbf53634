import { Inject, Injectable, Optional } from '@nestjs/common';
import { eq, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { epochMs, isoFromMs, type Executor } from '../persistence/db-rows.js';
import { conversations } from '../persistence/schema.js';
import type { Message } from '../protocol/models.js';
import { toMessage } from './message-row.js';

/** A conversation as stored, with its participants (they only change at creation). */
export interface ConversationRecord {
  id: string;
  organizationId: string;
  title: string | null;
  createdBy: string;
  createdAt: string;
  lastSeq: number;
  participantIds: string[];
}

interface ConversationRow {
  id: string;
  organizationId: string;
  title: string | null;
  createdBy: string;
  createdMs: number;
  lastSeq: number;
  participantIds: string | null;
}

const toRecord = (r: ConversationRow): ConversationRecord => ({
  id: r.id,
  organizationId: r.organizationId,
  title: r.title,
  createdBy: r.createdBy,
  createdAt: isoFromMs(r.createdMs)!,
  lastSeq: Number(r.lastSeq),
  // User ids match ^[A-Za-z0-9_-]+$, so a comma-joined aggregate splits back safely on both drivers.
  participantIds: r.participantIds ? r.participantIds.split(',') : [],
});

/** Where a `conversation:list` page ends: last activity (µs since the epoch) and id. */
export interface ListPosition {
  activityUs: string;
  id: string;
}

/** One row of `conversation:list`: the conversation, the caller's cursors and the last message. */
export interface ListedConversation {
  record: ConversationRecord;
  deliveredSeq: number;
  readSeq: number;
  lastMessage: Message | null;
  position: ListPosition;
}

interface ListRow extends ConversationRow {
  deliveredSeq: number;
  readSeq: number;
  activityUs: string;
  mId: string | null;
  mSeq: number | null;
  mSenderId: string | null;
  mContent: string | null;
  mMetadata: unknown;
  mCreatedMs: number | null;
  mEditedMs: number | null;
  mDeletedMs: number | null;
}

/**
 * `conversation:list` in one statement of a fixed text ($1 user, $2 organization, $3/$4 the
 * keyset position or NULL, $5 the page size + 1). Activity = the last message's time, else the
 * creation time, in µs; ties by id.
 */
const LIST_SQL = `WITH page AS (
    SELECT c.id, c.organization_id, c.title, c.created_by,
      (extract(epoch from c.created_at) * 1000)::float8 AS created_ms, c.last_seq,
      p.delivered_seq, p.read_seq,
      floor(extract(epoch from COALESCE(m.created_at, c.created_at)) * 1000000)::bigint AS activity_key,
      m.id AS m_id, m.seq AS m_seq, m.sender_id AS m_sender_id, m.content AS m_content,
      m.metadata AS m_metadata, (extract(epoch from m.created_at) * 1000)::float8 AS m_created_ms,
      (extract(epoch from m.edited_at) * 1000)::float8 AS m_edited_ms,
      (extract(epoch from m.deleted_at) * 1000)::float8 AS m_deleted_ms
    FROM conversation_participants p
    JOIN conversations c ON c.id = p.conversation_id AND c.organization_id = $2
    LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
    WHERE p.user_id = $1 AND p.organization_id = $2
      AND ($3::bigint IS NULL
           OR (floor(extract(epoch from COALESCE(m.created_at, c.created_at)) * 1000000)::bigint, c.id)
              < ($3::bigint, $4::text))
    ORDER BY activity_key DESC, c.id DESC
    LIMIT $5
  )
  SELECT page.id, page.organization_id AS "organizationId", page.title, page.created_by AS "createdBy",
    page.created_ms AS "createdMs", page.last_seq AS "lastSeq", page.delivered_seq AS "deliveredSeq",
    page.read_seq AS "readSeq", page.activity_key::text AS "activityUs", page.m_id AS "mId",
    page.m_seq AS "mSeq", page.m_sender_id AS "mSenderId", page.m_content AS "mContent",
    page.m_metadata AS "mMetadata", page.m_created_ms AS "mCreatedMs",
    page.m_edited_ms AS "mEditedMs", page.m_deleted_ms AS "mDeletedMs",
    (SELECT string_agg(pp.user_id, ',' ORDER BY pp.user_id) FROM conversation_participants pp
      WHERE pp.conversation_id = page.id) AS "participantIds"
  FROM page ORDER BY page.activity_key DESC, page.id DESC`;

function statements(db: Db) {
  return {
    byId: db
      .select({
        id: conversations.id,
        organizationId: conversations.organizationId,
        title: conversations.title,
        createdBy: conversations.createdBy,
        createdMs: epochMs(conversations.createdAt),
        lastSeq: conversations.lastSeq,
        participantIds: sql<
          string | null
        >`(SELECT string_agg(p.user_id, ',' ORDER BY p.user_id) FROM conversation_participants p WHERE p.conversation_id = ${conversations.id})`,
      })
      .from(conversations)
      .where(eq(conversations.id, sql.placeholder('id')))
      .prepare('conversations_by_id'),
    lastSeq: db
      .select({ lastSeq: conversations.lastSeq })
      .from(conversations)
      .where(eq(conversations.id, sql.placeholder('id')))
      .prepare('conversations_last_seq'),
  };
}

/** The `conversations` table: rows and the per-conversation `last_seq` allocator. */
@Injectable()
export class ConversationsRepository {
  private readonly statements: ReturnType<typeof statements>;
  private readonly errors: DatabaseErrors;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @Optional() errors?: DatabaseErrors,
  ) {
    this.statements = statements(database.db);
    this.errors = errors ?? new DatabaseErrors();
  }

  /** The conversation with its participant ids (sorted), or undefined. */
  async findById(id: string): Promise<ConversationRecord | undefined> {
    const rows = await this.errors.run('conversation-read', () =>
      this.statements.byId.execute({ id }),
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Inserts the row unless the id exists; true when this call created it. */
  async insertIfAbsent(
    row: { id: string; organizationId: string; title: string | null; createdBy: string },
    tx: Executor = this.database.db,
  ): Promise<boolean> {
    const rows = await this.errors.run('conversation-create', () =>
      tx
        .insert(conversations)
        .values(row)
        .onConflictDoNothing({ target: conversations.id })
        .returning({ id: conversations.id }),
    );
    return rows.length === 1;
  }

  async lastSeq(id: string): Promise<number | undefined> {
    const rows = await this.errors.run('conversation-read', () =>
      this.statements.lastSeq.execute({ id }),
    );
    return rows[0] ? Number(rows[0].lastSeq) : undefined;
  }

  /**
   * A page of the user's conversations in its organization, most recent activity first (the last
   * message's time, else the creation time; ties by id), strictly after `after` in that order.
   * Keyset paging: a page never repeats or skips a conversation whose activity did not change;
   * one that got a new message moves to the front (the client hears of it live).
   *
   * Cost: the user's participant rows (participants_user_idx), one primary-key probe per
   * conversation and one (conversation_id, seq) probe for its last message, then a sort of the
   * user's conversations (a few hundred at most in a school); participants are aggregated for
   * the page only. No extra index or denormalized column is needed.
   */
  async listForUser(
    userId: string,
    organizationId: string,
    after: ListPosition | undefined,
    limit: number,
  ): Promise<{ items: ListedConversation[]; hasMore: boolean }> {
    const rows = await this.errors.run('conversation-list', () =>
      this.database.prepared<ListRow>('conversations_list', LIST_SQL, [
        userId,
        organizationId,
        after?.activityUs ?? null,
        after?.id ?? null,
        limit + 1,
      ]),
    );
    const items = rows.slice(0, limit).map((r): ListedConversation => ({
      record: toRecord(r),
      deliveredSeq: Number(r.deliveredSeq),
      readSeq: Number(r.readSeq),
      lastMessage:
        r.mId === null
          ? null
          : toMessage({
              id: r.mId,
              conversationId: r.id,
              seq: Number(r.mSeq),
              senderId: r.mSenderId ?? '',
              organizationId: r.organizationId,
              content: r.mContent ?? '',
              metadata: r.mMetadata,
              createdMs: Number(r.mCreatedMs),
              editedMs: r.mEditedMs,
              deletedMs: r.mDeletedMs,
            }),
      position: { activityUs: String(r.activityUs), id: r.id },
    }));
    return { items, hasMore: rows.length > limit };
  }
}
