import { sessionOf } from '../gateway/publisher/session-of.js';
import { RealtimeEvent, RealtimeGateway } from '../gateway/router/realtime-event.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { isValidMessageSend } from '../protocol/dto/fast-checks.js';
import {
  ConversationCreateDto,
  ConversationHistoryDto,
  ConversationJoinDto,
  ConversationListDto,
  ConversationRefDto,
  MessageEditDto,
  MessageReceiptDto,
  MessageRefDto,
  MessageSendDto,
  MessageTypingDto,
} from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { ConversationsService } from './conversations.service.js';
import { MessagesService } from './messages.service.js';
import { ReceiptsService } from './receipts.service.js';
import { TypingService } from './typing.service.js';

/** `conversation:*` and `message:*` (§5), the same on `/` and `/communication`. */
@RealtimeGateway(['/', '/communication'])
export class MessagingGateway {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly messages: MessagesService,
    private readonly receipts: ReceiptsService,
    private readonly typers: TypingService,
  ) {}

  /** The hottest event: the fast check accepts what the DTO certainly accepts. */
  @RealtimeEvent('message:send', { accepts: isValidMessageSend })
  send(socket: AppSocket, body: MessageSendDto): Promise<ClientAckData<'message:send'>> {
    return this.messages.send(socket.data.user, body);
  }

  @RealtimeEvent('conversation:create')
  create(
    socket: AppSocket,
    body: ConversationCreateDto,
  ): Promise<ClientAckData<'conversation:create'>> {
    return this.conversations.create(socket.data.user, body);
  }

  @RealtimeEvent('conversation:join')
  join(socket: AppSocket, body: ConversationJoinDto): Promise<ClientAckData<'conversation:join'>> {
    return this.conversations.join(sessionOf(socket), body);
  }

  @RealtimeEvent('conversation:history')
  history(
    socket: AppSocket,
    body: ConversationHistoryDto,
  ): Promise<ClientAckData<'conversation:history'>> {
    return this.conversations.history(socket.data.user, body);
  }

  @RealtimeEvent('conversation:leave')
  leave(socket: AppSocket, body: ConversationRefDto): Promise<ClientAckData<'conversation:leave'>> {
    return this.conversations.leave(sessionOf(socket), body);
  }

  /** May be sent without a payload (then: the first page of 50). */
  @RealtimeEvent('conversation:list', { optionalPayload: true })
  list(socket: AppSocket, body: ConversationListDto): Promise<ClientAckData<'conversation:list'>> {
    return this.conversations.list(socket.data.user, body);
  }

  @RealtimeEvent('message:edit')
  edit(socket: AppSocket, body: MessageEditDto): Promise<ClientAckData<'message:edit'>> {
    return this.messages.edit(socket.data.user, body);
  }

  @RealtimeEvent('message:delete')
  remove(socket: AppSocket, body: MessageRefDto): Promise<ClientAckData<'message:delete'>> {
    return this.messages.delete(socket.data.user, body);
  }

  @RealtimeEvent('message:delivered')
  delivered(
    socket: AppSocket,
    body: MessageReceiptDto,
  ): Promise<ClientAckData<'message:delivered'>> {
    return this.receipts.delivered(socket.data.user, body);
  }

  @RealtimeEvent('message:read')
  read(socket: AppSocket, body: MessageReceiptDto): Promise<ClientAckData<'message:read'>> {
    return this.receipts.read(socket.data.user, body);
  }

  /** Over its limit typing is dropped silently (`{ok: true, data: {}}`). */
  @RealtimeEvent('message:typing', { rateLimit: { silent: true } })
  typing(socket: AppSocket, body: MessageTypingDto): Promise<ClientAckData<'message:typing'>> {
    return this.typers.typing(socket.data.user, body, socket.id);
  }
}
