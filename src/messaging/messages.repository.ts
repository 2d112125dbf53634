import { Inject, Injectable, Optional } from '@nestjs/common';
import { and, asc, desc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { epochMs, isoFromMs, type Executor } from '../persistence/db-rows.js';
import { messages } from '../persistence/schema.js';
import type { Message } from '../protocol/models.js';
import { toMessage } from './message-row.js';
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

/** The message columns of the builder's selects and RETURNING clauses. */
const columns = {
  id: messages.id,
  conversationId: messages.conversationId,
  seq: messages.seq,
  senderId: messages.senderId,
  organizationId: messages.organizationId,
  content: messages.content,
  metadata: messages.metadata,
  createdMs: epochMs(messages.createdAt),
  editedMs: epochMs(messages.editedAt),
  deletedMs: epochMs(messages.deletedAt),
};

/** A page of messages, oldest first, and whether more exist beyond it. */
export interface MessagePage {
  messages: Message[];
  hasMore: boolean;
}

const INSERT_BATCH_SQL =
  'SELECT id, seq, created_ms FROM insert_message_batch($1, $2, $3, $4, $5, $6)';

/** The reads every join, page and duplicate check repeats, built once (drizzle's builder allocates per build). */
function statements(db: Db) {
  return {
    byId: db
      .select(columns)
      .from(messages)
      .where(eq(messages.id, sql.placeholder('id')))
      .prepare('messages_by_id'),
    after: db
      .select(columns)
      .from(messages)
      .where(
        and(
          eq(messages.conversationId, sql.placeholder('conversationId')),
          gt(messages.seq, sql.placeholder('seq')),
        ),
      )
      .orderBy(asc(messages.seq))
      .limit(sql.placeholder('limit'))
      .prepare('messages_after'),
    before: db
      .select(columns)
      .from(messages)
      .where(
        and(
          eq(messages.conversationId, sql.placeholder('conversationId')),
          lt(messages.seq, sql.placeholder('seq')),
        ),
      )
      .orderBy(desc(messages.seq))
      .limit(sql.placeholder('limit'))
      .prepare('messages_before'),
    newest: db
      .select(columns)
      .from(messages)
      .where(eq(messages.conversationId, sql.placeholder('conversationId')))
      .orderBy(desc(messages.seq))
      .limit(sql.placeholder('limit'))
      .prepare('messages_newest'),
  };
}

/** The `messages` table. Failures leave as AppErrors (persistence/database-errors.ts). */
@Injectable()
export class MessagesRepository {
  private readonly statements: ReturnType<typeof statements>;
  private readonly errors: DatabaseErrors;
  /** Connect storms' replay reads, one statement per batch (replay-window-loader.ts). */
  private readonly replayWindows: ReplayWindowLoader;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @Optional() errors?: DatabaseErrors,
  ) {
    this.statements = statements(database.db);
    this.replayWindows = new ReplayWindowLoader(database);
    this.errors = errors ?? new DatabaseErrors();
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
   * The batch travels as arrays, in a prepared statement (the function keeps its plan for the
   * session): planning the statement cost PostgreSQL more than running it, and PGlite twice as
   * much. Only the id, seq and creation time come back; the rest of each message is what was sent.
   *
   * Unlike the other methods this one throws the driver's error as it is: MessageWriter splits a
   * failed batch by what the database refused (persistence/sqlstate.ts) and maps the rest.
   */
  async insertBatch(batch: NewMessage[]): Promise<Message[]> {
    if (batch.length === 0) return [];
    const rows = await this.database.prepared<{ id: string; seq: number; created_ms: number }>(
      'insert_message_batch',
      INSERT_BATCH_SQL,
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
    const rows = await this.errors.run('message-read', () => this.statements.byId.execute({ id }));
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  /** Messages with `seq > afterSeq`, oldest first; `hasMore` when newer ones exist beyond the page. */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    const rows = await this.errors.run('message-page', () =>
      this.statements.after.execute({ conversationId, seq: afterSeq, limit: limit + 1 }),
    );
    return { messages: rows.slice(0, limit).map(toMessage), hasMore: rows.length > limit };
  }

  /** The newest `limit` messages below `beforeSeq` (all when undefined), oldest first; `hasMore` when older ones exist. */
  async before(
    conversationId: string,
    beforeSeq: number | undefined,
    limit: number,
  ): Promise<MessagePage> {
    const rows = await this.errors.run('message-page', () =>
      beforeSeq === undefined
        ? this.statements.newest.execute({ conversationId, limit: limit + 1 })
        : this.statements.before.execute({ conversationId, seq: beforeSeq, limit: limit + 1 }),
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
    tx: Executor = this.database.db,
  ): Promise<Message | undefined> {
    const [row] = await this.errors.run('message-edit', () =>
      tx
        .update(messages)
        .set({ content, editedAt: sql`now()` })
        .where(and(eq(messages.id, id), isNull(messages.deletedAt)))
        .returning(columns),
    );
    return row ? toMessage(row) : undefined;
  }

  /** Soft delete: the content and metadata are erased in storage; undefined when already deleted. */
  async softDelete(id: string, tx: Executor = this.database.db): Promise<Message | undefined> {
    const [row] = await this.errors.run('message-delete', () =>
      tx
        .update(messages)
        .set({ content: '', metadata: {}, deletedAt: sql`now()` })
        .where(and(eq(messages.id, id), isNull(messages.deletedAt)))
        .returning(columns),
    );
    return row ? toMessage(row) : undefined;
  }

  /**
   * Replay: for each (conversation, delivered cursor) the messages above the cursor, ordered by
   * conversation and seq; the sockets connecting at the same moment share one query.
   */
  async above(windows: Array<{ conversationId: string; afterSeq: number }>): Promise<Message[]> {
    if (windows.length === 0) return [];
    return this.errors.run('message-replay', () => this.replayWindows.load(windows));
  }
}
