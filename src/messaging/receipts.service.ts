import { Injectable } from '@nestjs/common';
import type { ClientAckData, ClientPayload } from '../protocol/events.js';
import { AppError } from '../protocol/errors.js';
import { rooms } from '../protocol/rooms.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { ConversationCache, type Caller } from './conversation-cache.js';
import { ParticipantsRepository } from './participants.repository.js';

/**
 * `message:delivered` and `message:read` (§6): the participant's cursor moves up (never back),
 * and a receipt goes out only when it moved.
 */
@Injectable()
export class ReceiptsService {
  constructor(
    private readonly participants: ParticipantsRepository,
    private readonly cache: ConversationCache,
    private readonly publisher: RealtimePublisher,
  ) {}

  async delivered(
    caller: Caller,
    input: ClientPayload<'message:delivered'>,
  ): Promise<ClientAckData<'message:delivered'>> {
    const meta = await this.cache.access(caller, input.conversationId);
    const move = await this.participants.advance(
      meta.id,
      caller.userId,
      input.messageId,
      'delivered',
    );
    if (!move) throw AppError.notFound('Message');
    const deliveredAt = new Date().toISOString();
    if (move.moved) {
      this.publisher.toRooms(
        [rooms.conversation(meta.id), rooms.member(meta.organizationId, move.senderId)],
        'message:delivered',
        {
          conversationId: meta.id,
          messageId: input.messageId,
          userId: caller.userId,
          deliveredAt,
        },
      );
    }
    return { conversationId: meta.id, messageId: input.messageId, deliveredAt };
  }

  async read(
    caller: Caller,
    input: ClientPayload<'message:read'>,
  ): Promise<ClientAckData<'message:read'>> {
    const meta = await this.cache.access(caller, input.conversationId);
    const move = await this.participants.advance(meta.id, caller.userId, input.messageId, 'read');
    if (!move) throw AppError.notFound('Message');
    const readAt = new Date().toISOString();
    if (move.moved) {
      this.publisher.toConversation(
        meta.id,
        meta.participantIds,
        'message:read',
        { conversationId: meta.id, messageId: input.messageId, userId: caller.userId, readAt },
        { organizationId: meta.organizationId },
      );
    }
    return { conversationId: meta.id, messageId: input.messageId, readAt };
  }
}
