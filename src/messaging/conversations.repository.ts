import { Inject, Injectable } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { epochMs, isoFromMs, queryRows, type Executor } from './db-rows.js';

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
}
