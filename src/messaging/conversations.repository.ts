import { Inject, Injectable } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import type { Message } from '../protocol/models.js';
import { epochMs, isoFromMs, queryRows, type Executor } from './db-rows.js';
import { toMessage } from './messages.repository.js';

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
  organization_id: string;
  title: string | null;
  created_by: string;
  created_ms: number;
  last_seq: number;
  participant_ids: string | null;
}

const toRecord = (r: ConversationRow): ConversationRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  title: r.title,
  createdBy: r.created_by,
  createdAt: isoFromMs(r.created_ms)!,
  lastSeq: Number(r.last_seq),
  // User ids match ^[A-Za-z0-9_-]+$, so a comma-joined aggregate splits back safely on both drivers.
  participantIds: r.participant_ids ? r.participant_ids.split(',') : [],
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
  delivered_seq: number;
  read_seq: number;
  activity_us: string;
  m_id: string | null;
  m_seq: number | null;
  m_sender_id: string | null;
  m_type: string | null;
  m_content: string | null;
  m_metadata: unknown;
  m_created_ms: number | null;
  m_edited_ms: number | null;
  m_deleted_ms: number | null;
}

/** The `conversations` table: rows and the per-conversation `last_seq` allocator. */
@Injectable()
export class ConversationsRepository {
  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {}

  /** The conversation with its participant ids (sorted), or undefined. */
  async findById(
    id: string,
    ex: Executor = this.database.db,
  ): Promise<ConversationRecord | undefined> {
    const rows = await queryRows<ConversationRow>(
      ex,
      sql`SELECT c.id, c.organization_id, c.title, c.created_by, ${epochMs(sql`c.created_at`)} AS created_ms, c.last_seq,
            (SELECT string_agg(p.user_id, ',' ORDER BY p.user_id) FROM conversation_participants p WHERE p.conversation_id = c.id) AS participant_ids
          FROM conversations c WHERE c.id = ${id}`,
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Inserts the row unless the id exists; true when this call created it. */
  async insertIfAbsent(
    row: { id: string; organizationId: string; title: string | null; createdBy: string },
    ex: Executor,
  ): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      ex,
      sql`INSERT INTO conversations (id, organization_id, title, created_by)
          VALUES (${row.id}, ${row.organizationId}, ${row.title}, ${row.createdBy})
          ON CONFLICT (id) DO NOTHING RETURNING id`,
    );
    return rows.length === 1;
  }

  async lastSeq(id: string): Promise<number | undefined> {
    const rows = await queryRows<{ last_seq: number }>(
      this.database.db,
      sql`SELECT last_seq FROM conversations WHERE id = ${id}`,
    );
    return rows[0] ? Number(rows[0].last_seq) : undefined;
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
    const activity = sql`floor(extract(epoch from COALESCE(m.created_at, c.created_at)) * 1000000)::bigint`;
    const keyset = after
      ? sql`AND (${activity}, c.id) < (${after.activityUs}::bigint, ${after.id})`
      : sql``;
    const rows = await queryRows<ListRow>(
      this.database.db,
      sql`WITH page AS (
            SELECT c.id, c.organization_id, c.title, c.created_by, ${epochMs(sql`c.created_at`)} AS created_ms, c.last_seq,
              p.delivered_seq, p.read_seq, ${activity} AS activity_key,
              m.id AS m_id, m.seq AS m_seq, m.sender_id AS m_sender_id, m.type AS m_type, m.content AS m_content,
              m.metadata AS m_metadata, ${epochMs(sql`m.created_at`)} AS m_created_ms,
              ${epochMs(sql`m.edited_at`)} AS m_edited_ms, ${epochMs(sql`m.deleted_at`)} AS m_deleted_ms
            FROM conversation_participants p
            JOIN conversations c ON c.id = p.conversation_id AND c.organization_id = ${organizationId}
            LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
            WHERE p.user_id = ${userId} AND p.organization_id = ${organizationId} ${keyset}
            ORDER BY activity_key DESC, c.id DESC
            LIMIT ${limit + 1}
          )
          SELECT page.*, page.activity_key::text AS activity_us,
            (SELECT string_agg(pp.user_id, ',' ORDER BY pp.user_id) FROM conversation_participants pp WHERE pp.conversation_id = page.id) AS participant_ids
          FROM page ORDER BY page.activity_key DESC, page.id DESC`,
    );
    const items = rows.slice(0, limit).map((r): ListedConversation => ({
      record: toRecord(r),
      deliveredSeq: Number(r.delivered_seq),
      readSeq: Number(r.read_seq),
      lastMessage:
        r.m_id === null
          ? null
          : toMessage({
              id: r.m_id,
              conversation_id: r.id,
              seq: Number(r.m_seq),
              sender_id: r.m_sender_id ?? '',
              organization_id: r.organization_id,
              type: r.m_type ?? 'text',
              content: r.m_content ?? '',
              metadata: r.m_metadata,
              created_ms: Number(r.m_created_ms),
              edited_ms: r.m_edited_ms,
              deleted_ms: r.m_deleted_ms,
            }),
      position: { activityUs: String(r.activity_us), id: r.id },
    }));
    return { items, hasMore: rows.length > limit };
  }
}
