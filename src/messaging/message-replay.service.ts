import { Injectable } from '@nestjs/common';
import { REPLAY_LIMIT } from '../protocol/constants.js';
import type { Message } from '../protocol/models.js';
import type { Caller } from './conversation-cache.js';
import { MessagesRepository } from './messages.repository.js';
import { ParticipantsRepository, type LaggingConversation } from './participants.repository.js';

/** One step of the connect-time replay (§4 step 4), in the order it is sent. */
export type ReplayItem =
  | { kind: 'message'; message: Message }
  | { kind: 'sync-required'; conversationId: string; deliveredSeq: number; lastSeq: number };

/** What a connecting user missed (§4 step 4); MessageReplayHook sends it. */
@Injectable()
export class MessageReplayService {
  constructor(
    private readonly participants: ParticipantsRepository,
    private readonly messages: MessagesRepository,
  ) {}

  /** The conversations in which the user has not confirmed everything (one statement). */
  lagging(user: Caller): Promise<LaggingConversation[]> {
    return this.participants.lagging(user.userId, user.organizationId);
  }

  /**
   * For each conversation above the delivered cursor, its messages oldest first, or
   * `sync-required` when more than REPLAY_LIMIT are missing. Two queries in all.
   */
  async replayFor(user: Caller): Promise<ReplayItem[]> {
    const lagging = await this.participants.lagging(user.userId, user.organizationId);
    if (lagging.length === 0) return [];
    const small = lagging.filter((l) => l.lastSeq - l.deliveredSeq <= REPLAY_LIMIT);
    const found = await this.messages.above(
      small.map((l) => ({ conversationId: l.conversationId, afterSeq: l.deliveredSeq })),
    );
    const groups = new Map<string, Message[]>();
    for (const m of found) {
      const g = groups.get(m.conversationId);
      if (g) g.push(m);
      else groups.set(m.conversationId, [m]);
    }
    // Oldest first across conversations: each conversation's run of messages, ordered by its first one.
    const runs = [...groups.values()].sort(
      (a, b) =>
        a[0].createdAt.localeCompare(b[0].createdAt) ||
        a[0].conversationId.localeCompare(b[0].conversationId),
    );
    const items: ReplayItem[] = lagging
      .filter((l) => l.lastSeq - l.deliveredSeq > REPLAY_LIMIT)
      .map((l) => ({
        kind: 'sync-required',
        conversationId: l.conversationId,
        deliveredSeq: l.deliveredSeq,
        lastSeq: l.lastSeq,
      }));
    for (const run of runs) for (const message of run) items.push({ kind: 'message', message });
    return items;
  }
}
