import { isoFromMs, jsonObject } from '../persistence/db-rows.js';
import type { Message } from '../protocol/models.js';

/** A stored message as selected: times as epoch milliseconds (db-rows.ts `epochMs`). */
export interface MessageRow {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  organizationId: string;
  content: string;
  metadata: unknown;
  createdMs: number;
  editedMs: number | null;
  deletedMs: number | null;
}

/** Row → wire shape. A deleted message is served with empty content and metadata everywhere. */
export function toMessage(r: MessageRow): Message {
  const deletedAt = isoFromMs(r.deletedMs);
  return {
    id: r.id,
    conversationId: r.conversationId,
    seq: Number(r.seq),
    senderId: r.senderId,
    organizationId: r.organizationId,
    type: 'text',
    content: deletedAt ? '' : r.content,
    metadata: deletedAt ? {} : jsonObject(r.metadata),
    createdAt: isoFromMs(r.createdMs)!,
    editedAt: isoFromMs(r.editedMs),
    deletedAt,
  };
}
