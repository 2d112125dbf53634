import { Injectable } from '@nestjs/common';
import type { ClientAckData, ClientPayload } from '../protocol/events.js';
import type { Caller } from './conversation-cache.js';
import { ConversationsService } from './conversations.service.js';
import { MessageReplayService, type ReplayItem } from './message-replay.service.js';
import { MessagesService } from './messages.service.js';
import { ReceiptsService } from './receipts.service.js';
import { TypingService } from './typing.service.js';

export type { ReplayItem };

/**
 * The messaging module's one entry for the gateways and the replay hook: every `conversation:*`
 * and `message:*` event by name, each answered by the service of its concern —
 * ConversationsService (create, list, join, history, leave), MessagesService (send, edit,
 * delete), ReceiptsService (delivered, read), TypingService, MessageReplayService (§4 step 4) —
 * which share the ConversationCache. No rules here: it only routes.
 */
@Injectable()
export class MessagingService {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesService,
    private readonly receipts: ReceiptsService,
    private readonly typingService: TypingService,
    private readonly replay: MessageReplayService,
  ) {}

  create(
    caller: Caller,
    input: ClientPayload<'conversation:create'>,
  ): Promise<ClientAckData<'conversation:create'>> {
    return this.conversations.create(caller, input);
  }

  list(
    caller: Caller,
    input: ClientPayload<'conversation:list'>,
  ): Promise<ClientAckData<'conversation:list'>> {
    return this.conversations.list(caller, input);
  }

  join(
    caller: Caller,
    input: ClientPayload<'conversation:join'>,
  ): Promise<ClientAckData<'conversation:join'>> {
    return this.conversations.join(caller, input);
  }

  history(
    caller: Caller,
    input: ClientPayload<'conversation:history'>,
  ): Promise<ClientAckData<'conversation:history'>> {
    return this.conversations.history(caller, input);
  }

  checkAccess(caller: Caller, conversationId: string): Promise<void> {
    return this.conversations.checkAccess(caller, conversationId);
  }

  send(
    caller: Caller,
    input: ClientPayload<'message:send'>,
  ): Promise<ClientAckData<'message:send'>> {
    return this.messages.send(caller, input);
  }

  edit(
    caller: Caller,
    input: ClientPayload<'message:edit'>,
    requestId?: string,
  ): Promise<ClientAckData<'message:edit'>> {
    return this.messages.edit(caller, input, requestId);
  }

  delete(
    caller: Caller,
    input: ClientPayload<'message:delete'>,
    requestId?: string,
  ): Promise<ClientAckData<'message:delete'>> {
    return this.messages.delete(caller, input, requestId);
  }

  delivered(
    caller: Caller,
    input: ClientPayload<'message:delivered'>,
  ): Promise<ClientAckData<'message:delivered'>> {
    return this.receipts.delivered(caller, input);
  }

  read(
    caller: Caller,
    input: ClientPayload<'message:read'>,
  ): Promise<ClientAckData<'message:read'>> {
    return this.receipts.read(caller, input);
  }

  typing(
    caller: Caller,
    input: ClientPayload<'message:typing'>,
    exceptSocketId: string,
  ): Promise<ClientAckData<'message:typing'>> {
    return this.typingService.typing(caller, input, exceptSocketId);
  }

  replayFor(user: Caller): Promise<ReplayItem[]> {
    return this.replay.replayFor(user);
  }
}
