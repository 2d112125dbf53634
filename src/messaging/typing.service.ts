import { Injectable } from '@nestjs/common';
import type { ClientAckData, ClientPayload } from '../protocol/events.js';
import { rooms } from '../protocol/rooms.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { ConversationCache, type Caller } from './conversation-cache.js';

/** `message:typing` (§6): nothing stored. */
@Injectable()
export class TypingService {
  constructor(
    private readonly cache: ConversationCache,
    private readonly publisher: RealtimePublisher,
  ) {}

  /** Typing goes to the conversation room except the typing socket, volatile (§6). */
  async typing(
    caller: Caller,
    input: ClientPayload<'message:typing'>,
    exceptSocketId: string,
  ): Promise<ClientAckData<'message:typing'>> {
    const meta = await this.cache.access(caller, input.conversationId);
    this.publisher.toRooms(
      [rooms.conversation(meta.id)],
      'message:typing',
      { conversationId: meta.id, userId: caller.userId, isTyping: input.isTyping },
      { except: [exceptSocketId], volatile: true },
    );
    return {};
  }
}
