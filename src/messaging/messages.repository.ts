import { Inject, Injectable } from '@nestjs/common';
import { sql, type SQL } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import type { Message } from '../protocol/models.js';
import { epochMs, isoFromMs, jsonObject, queryRows, type Executor } from './db-rows.js';
import { ReplayWindowLoader } from './replay-window-loader.js';

/** A message to store; its seq is allocated by the insert. */
export interface NewMessage {
  id: string;
  conversationId: string;
  senderId: string;
  organizationId: string;
  content: string;
  metadata: Record<string, unknown>;
}

export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  organization_id: string;
  type: string;
  content: string;
  metadata: unknown;
  created_ms: number;
  edited_ms: number | null;
  deleted_ms: number | null;
}

/** The message columns in wire order; `alias` is the table or CTE name. */
const columns = (alias: string): SQL => {
  const a = sql.raw(alias);
  return sql`${a}.id, ${a}.conversation_id, ${a}.seq, ${a}.sender_id, ${a}.organization_id, ${a}.type, ${a}.content, ${a}.metadata,
    ${epochMs(sql`${a}.created_at`)} AS created_ms, ${epochMs(sql`${a}.edited_at`)} AS edited_ms, ${epochMs(sql`${a}.deleted_at`)} AS deleted_ms`;
};

/** Row → wire shape. A deleted message is served with empty content and metadata everywhere. */
export function toMessage(r: MessageRow): Message {
  const deletedAt = isoFromMs(r.deleted_ms);
  return {
    id: r.id,
    conversationId: r.conversation_id,
    seq: Number(r.seq),
    senderId: r.sender_id,
    organizationId: r.organization_id,
    type: 'text',
    content: deletedAt ? '' : r.content,
    metadata: deletedAt ? {} : jsonObject(r.metadata),
    createdAt: isoFromMs(r.created_ms)!,
    editedAt: isoFromMs(r.edited_ms),
    deletedAt,
  };
}

/** A page of messages, oldest first, and whether more exist beyond it. */
export interface MessagePage {
  messages: Message[];
  hasMore: boolean;
}

/** The `messages` table. */
@Injectable()
export class MessagesRepository {
  /** Connect storms' replay reads, one statement per batch (replay-window-loader.ts). */
  private readonly replayWindows: ReplayWindowLoader;

  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {
    this.replayWindows = new ReplayWindowLoader(database);
  }

  /**
   * Stores several messages in ONE statement (one implicit transaction), the SQL function
   * `insert_message_batch` (migration 0002): per conversation, `last_seq` goes up by the number
   * of its messages and they take the seqs below it in order; each sender's delivered and read
   * cursors move to their newest message. The conversation rows are locked first, in id order, so
   * statements of any number of writers on any number of nodes never deadlock, and seqs stay
   * gapless and unique. A repeated id fails the whole statement with a unique violation (nothing
   * written).
   *
   * The batch travels as arrays and the function keeps its plan for the session: planning the
   * statement cost PostgreSQL more than running it, and PGlite twice as much. Only the id, seq and
   * creation time come back; the rest of each message is what was sent.
   */
  async insertBatch(batch: NewMessage[]): Promise<Message[]> {
    if (batch.length === 0) return [];
    const rows = await this.database.prepared<{ id: string; seq: number; created_ms: number }>(
      'insert_message_batch',
      'SELECT id, seq, created_ms FROM insert_message_batch($1, $2, $3, $4, $5, $6)',
      [
        batch.map((m) => m.id),
        batch.map((m) => m.conversationId),
        batch.map((m) => m.senderId),
        batch.map((m) => m.organizationId),
        batch.map((m) => m.content),
        batch.map((m) => JSON.stringify(m.metadata)),
      ],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const out: Message[] = [];
    for (const m of batch) {
      const r = byId.get(m.id);
      if (!r) continue;
      out.push({
        id: m.id,
        conversationId: m.conversationId,
        seq: Number(r.seq),
        senderId: m.senderId,
        organizationId: m.organizationId,
        type: 'text',
        content: m.content,
        metadata: m.metadata,
        createdAt: isoFromMs(r.created_ms)!,
        editedAt: null,
        deletedAt: null,
      });
    }
    return out;
  }

  async findById(id: string): Promise<Message | undefined> {
    const rows = await queryRows<MessageRow>(
      this.database.db,
      sql`SELECT ${columns('messages')} FROM messages WHERE id = ${id}`,
    );
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  /** Messages with `seq > afterSeq`, oldest first; `hasMore` when newer ones exist beyond the page. */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    const rows = await queryRows<MessageRow>(
      this.database.db,
      sql`SELECT ${columns('messages')} FROM messages WHERE conversation_id = ${conversationId} AND seq > ${afterSeq}
          ORDER BY seq ASC LIMIT ${limit + 1}`,
    );
    return { messages: rows.slice(0, limit).map(toMessage), hasMore: rows.length > limit };
  }

  /** The newest `limit` messages below `beforeSeq` (all when undefined), oldest first; `hasMore` when older ones exist. */
  async before(
    conversationId: string,
    beforeSeq: number | undefined,
    limit: number,
  ): Promise<MessagePage> {
    const bound = beforeSeq === undefined ? sql`` : sql` AND seq < ${beforeSeq}`;
    const rows = await queryRows<MessageRow>(
      this.database.db,
      sql`SELECT ${columns('messages')} FROM messages WHERE conversation_id = ${conversationId}${bound}
          ORDER BY seq DESC LIMIT ${limit + 1}`,
    );
    return {
      messages: rows.slice(0, limit).reverse().map(toMessage),
      hasMore: rows.length > limit,
    };
  }

  /** New content for a message that is not deleted; undefined when it is (or vanished). */
  async editContent(
    id: string,
    content: string,
    ex: Executor = this.database.db,
  ): Promise<Message | undefined> {
    const rows = await queryRows<MessageRow>(
      ex,
      sql`UPDATE messages SET content = ${content}, edited_at = now() WHERE id = ${id} AND deleted_at IS NULL
          RETURNING ${columns('messages')}`,
    );
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  /** Soft delete: the content and metadata are erased in storage; undefined when already deleted. */
  async softDelete(id: string, ex: Executor = this.database.db): Promise<Message | undefined> {
    const rows = await queryRows<MessageRow>(
      ex,
      sql`UPDATE messages SET content = '', metadata = '{}'::jsonb, deleted_at = now() WHERE id = ${id} AND deleted_at IS NULL
          RETURNING ${columns('messages')}`,
    );
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  /**
   * Replay: for each (conversation, delivered cursor) the messages above the cursor, ordered by
   * conversation and seq; the sockets connecting at the same moment share one query.
   */
  above(windows: Array<{ conversationId: string; afterSeq: number }>): Promise<Message[]> {
    return this.replayWindows.load(windows);
  }
}
