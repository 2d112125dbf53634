import type { Message } from './protocol/models.js';

interface ConversationCursor {
  /** Every seq at or below this has been seen (or deliberately skipped by the app). */
  floor: number;
  /** Seqs above `floor` already seen. */
  seen: Set<number>;
}

/**
 * Remembers which messages the app has been given, per conversation, so that a message that
 * arrives twice (live and in the reconnect replay, or in a join page and live) is passed on once,
 * and so the client knows from which `seq` to catch up. Dedupe is by seq (unique per conversation,
 * one id per seq) rather than by a high-water mark, because live messages may arrive before an
 * older catch-up page: those older ones are still new to the app.
 */
export class MessageTracker {
  private readonly cursors = new Map<string, ConversationCursor>();

  constructor(private readonly maxSeenPerConversation = 5000) {}

  private cursor(conversationId: string): ConversationCursor {
    let c = this.cursors.get(conversationId);
    if (!c) {
      c = { floor: 0, seen: new Set() };
      this.cursors.set(conversationId, c);
    }
    return c;
  }

  knows(conversationId: string): boolean {
    return this.cursors.has(conversationId);
  }

  /** Records a message; true when it is new to the app, false for a duplicate. */
  accept(message: Pick<Message, 'conversationId' | 'seq'>): boolean {
    const c = this.cursor(message.conversationId);
    if (message.seq <= c.floor || c.seen.has(message.seq)) return false;
    c.seen.add(message.seq);
    this.compact(c);
    return true;
  }

  /** The app says it has (or does not want) everything up to `seq`. */
  advanceFloor(conversationId: string, seq: number): void {
    const c = this.cursor(conversationId);
    if (seq <= c.floor) return;
    c.floor = seq;
    for (const s of c.seen) if (s <= seq) c.seen.delete(s);
    this.compact(c);
  }

  /** The last seq up to which the app has everything: catch-up asks for `afterSeq` = this. */
  lastContiguousSeq(conversationId: string): number {
    return this.cursors.get(conversationId)?.floor ?? 0;
  }

  /** The highest seq seen at all (may be above the contiguous one). */
  lastSeenSeq(conversationId: string): number {
    const c = this.cursors.get(conversationId);
    if (!c) return 0;
    let max = c.floor;
    for (const s of c.seen) if (s > max) max = s;
    return max;
  }

  private compact(c: ConversationCursor): void {
    while (c.seen.has(c.floor + 1)) {
      c.seen.delete(c.floor + 1);
      c.floor += 1;
    }
    if (c.seen.size > this.maxSeenPerConversation) {
      // Bounded memory: give up on the oldest holes (they are older than anything kept).
      const sorted = [...c.seen].sort((a, b) => a - b);
      const drop = sorted.slice(0, sorted.length - this.maxSeenPerConversation);
      c.floor = drop[drop.length - 1];
      for (const s of drop) c.seen.delete(s);
      this.compact(c);
    }
  }
}
