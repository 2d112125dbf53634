import type { DatabaseHandle } from '../persistence/database.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
import type { Message } from '../protocol/models.js';
import { toMessage, type MessageRow } from './message-row.js';

/** A conversation and the delivered cursor above which its messages are replayed. */
export interface ReplayWindow {
  conversationId: string;
  afterSeq: number;
}

/**
 * One plan-cached statement for every conversation of a batch, from the lowest cursor asked for
 * it: the members of one conversation mostly share their cursor, so a storm of n of them reads
 * its missed messages once instead of n times.
 */
const ABOVE_SQL = `SELECT m.id, m.conversation_id AS "conversationId", m.seq, m.sender_id AS "senderId",
       m.organization_id AS "organizationId", m.content, m.metadata,
       (extract(epoch from m.created_at) * 1000)::float8 AS "createdMs",
       (extract(epoch from m.edited_at) * 1000)::float8 AS "editedMs",
       (extract(epoch from m.deleted_at) * 1000)::float8 AS "deletedMs"
  FROM unnest($1::text[], $2::int[]) AS w(conversation_id, after_seq)
  JOIN messages m ON m.conversation_id = w.conversation_id AND m.seq > w.after_seq
 ORDER BY m.conversation_id, m.seq`;

/**
 * The replay reads of a connect storm (§4 step 4), grouped (micro-batcher.ts): the windows of
 * every socket connecting in the same few milliseconds go out as one statement, and each socket
 * gets the messages above its own cursors, ordered by conversation and seq. The Message objects
 * are shared between the sockets of a batch (they are only read, to be emitted).
 */
export class ReplayWindowLoader {
  private readonly batcher = new MicroBatcher<ReplayWindow[], Message[]>((batch) =>
    this.run(batch),
  );

  constructor(private readonly database: DatabaseHandle) {}

  load(windows: ReplayWindow[]): Promise<Message[]> {
    if (windows.length === 0) return Promise.resolve([]);
    return this.batcher.load(windows);
  }

  private async run(batch: ReplayWindow[][]): Promise<Message[][]> {
    const lowest = new Map<string, number>();
    for (const windows of batch)
      for (const w of windows) {
        const seen = lowest.get(w.conversationId);
        if (seen === undefined || w.afterSeq < seen) lowest.set(w.conversationId, w.afterSeq);
      }
    const rows = await this.database.prepared<MessageRow>('messages_replay_above', ABOVE_SQL, [
      [...lowest.keys()],
      [...lowest.values()],
    ]);
    const byConversation = new Map<string, Message[]>();
    for (const row of rows) {
      const message = toMessage(row);
      const list = byConversation.get(message.conversationId);
      if (list) list.push(message);
      else byConversation.set(message.conversationId, [message]);
    }
    return batch.map((windows) => {
      const out: Message[] = [];
      for (const w of windows)
        for (const m of byConversation.get(w.conversationId) ?? [])
          if (m.seq > w.afterSeq) out.push(m);
      return out;
    });
  }
}
