import { Module } from '@nestjs/common';
import { ConversationsRepository } from './conversations.repository.js';
import { MessageReplayHook } from './message-replay.hook.js';
import { MessageWriter } from './message-writer.js';
import { MessagesRepository } from './messages.repository.js';
import { MessagingGateway } from './messaging.gateway.js';
import { MessagingService } from './messaging.service.js';
import { ParticipantsRepository } from './participants.repository.js';

/** Conversations, messages, receipts and the connect-time replay, on `/` and `/communication`. */
@Module({
  providers: [
    ConversationsRepository,
    ParticipantsRepository,
    MessagesRepository,
    MessageWriter,
    MessagingService,
    MessageReplayHook,
    MessagingGateway,
  ],
  exports: [MessagingService],
})
export class MessagingModule {}
