import { ConnectedSocket, MessageBody, SubscribeMessage } from '@nestjs/websockets';
import type { AppSocket } from '../gateway/socket.types.js';
import { HotEventRouter } from '../gateway/hot-events.js';
import { OptionalPayload } from '../gateway/optional-payload.js';
import { RealtimeGateway } from '../gateway/realtime-gateway.decorator.js';
import type { NamespaceName } from '../protocol/constants.js';
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
import { rooms } from '../protocol/rooms.js';
import { Throttle } from '../rate-limit/throttle.decorator.js';
import { MessagingService } from './messaging.service.js';

/** `conversation:list` may be sent without a payload (then: the first page of 50). */
@OptionalPayload()
class ConversationListPayload extends ConversationListDto {}

/**
 * `conversation:*` and `message:*` (§5): validate (DTO pipe), call the service, return the ack
 * data. The same handlers serve `/` and `/communication`; `message:send` is served by the
 * HotEventRouter (registered here) with the same pipeline.
 */
abstract class MessagingGatewayBase {
  constructor(
    protected readonly messaging: MessagingService,
    hotEvents: HotEventRouter,
    namespace: NamespaceName,
  ) {
    // `message:send`, the hottest event, takes the lean path: same pipeline, same answers.
    hotEvents.register(namespace, 'message:send', {
      dto: MessageSendDto,
      accepts: isValidMessageSend,
      handle: (socket, body) => this.messaging.send(socket.data.user, body),
    });
  }

  @SubscribeMessage('conversation:create')
  create(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: ConversationCreateDto,
  ): Promise<ClientAckData<'conversation:create'>> {
    return this.messaging.create(socket.data.user, body);
  }

  @SubscribeMessage('conversation:join')
  async join(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: ConversationJoinDto,
  ): Promise<ClientAckData<'conversation:join'>> {
    await this.messaging.checkAccess(socket.data.user, body.conversationId);
    // Join first, read after: a message stored in between is both in the page and live, never in neither.
    await socket.join(rooms.conversation(body.conversationId));
    return this.messaging.join(socket.data.user, body);
  }

  @SubscribeMessage('conversation:history')
  history(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: ConversationHistoryDto,
  ): Promise<ClientAckData<'conversation:history'>> {
    return this.messaging.history(socket.data.user, body);
  }

  @SubscribeMessage('conversation:leave')
  async leave(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: ConversationRefDto,
  ): Promise<ClientAckData<'conversation:leave'>> {
    await this.messaging.checkAccess(socket.data.user, body.conversationId);
    await socket.leave(rooms.conversation(body.conversationId));
    return { conversationId: body.conversationId };
  }

  @SubscribeMessage('conversation:list')
  list(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: ConversationListPayload,
  ): Promise<ClientAckData<'conversation:list'>> {
    return this.messaging.list(socket.data.user, body);
  }

  @SubscribeMessage('message:edit')
  edit(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: MessageEditDto,
  ): Promise<ClientAckData<'message:edit'>> {
    return this.messaging.edit(socket.data.user, body);
  }

  @SubscribeMessage('message:delete')
  remove(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: MessageRefDto,
  ): Promise<ClientAckData<'message:delete'>> {
    return this.messaging.delete(socket.data.user, body);
  }

  @SubscribeMessage('message:delivered')
  delivered(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: MessageReceiptDto,
  ): Promise<ClientAckData<'message:delivered'>> {
    return this.messaging.delivered(socket.data.user, body);
  }

  @SubscribeMessage('message:read')
  read(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: MessageReceiptDto,
  ): Promise<ClientAckData<'message:read'>> {
    return this.messaging.read(socket.data.user, body);
  }

  @Throttle({ silent: true })
  @SubscribeMessage('message:typing')
  typing(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: MessageTypingDto,
  ): Promise<ClientAckData<'message:typing'>> {
    return this.messaging.typing(socket.data.user, body, socket.id);
  }
}

@RealtimeGateway('/')
export class RootMessagingGateway extends MessagingGatewayBase {
  constructor(messaging: MessagingService, hotEvents: HotEventRouter) {
    super(messaging, hotEvents, '/');
  }
}

@RealtimeGateway('/communication')
export class CommunicationMessagingGateway extends MessagingGatewayBase {
  constructor(messaging: MessagingService, hotEvents: HotEventRouter) {
    super(messaging, hotEvents, '/communication');
  }
}
