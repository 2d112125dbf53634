import { Module } from '@nestjs/common';
import { ConversationCache } from './conversation-cache.js';
import { ConversationsRepository } from './conversations.repository.js';
import { ConversationsService } from './conversations.service.js';
import { MessageReplayHook } from './message-replay.hook.js';
import { MessageReplayService } from './message-replay.service.js';
import { MessageWriter } from './message-writer.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagesService } from './messages.service.js';
import { MessagingGateway } from './messaging.gateway.js';
import { ParticipantsRepository } from './participants.repository.js';
import { ReceiptsService } from './receipts.service.js';
import { TypingService } from './typing.service.js';

/** Conversations, messages, receipts and the connect-time replay, on `/` and `/communication`. */
@Module({
  providers: [
    ConversationsRepository,
    ParticipantsRepository,
    MessagesRepository,
    MessageWriter,
    ConversationCache,
    ConversationsService,
    MessagesService,
    ReceiptsService,
    TypingService,
    MessageReplayService,
    MessageReplayHook,
    MessagingGateway,
  ],
})
export class MessagingModule {}
