import { ConnectedSocket, MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { RealtimeGateway } from '../gateway/realtime-gateway.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { NotificationReadDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { NotificationsService } from './notifications.service.js';

@RealtimeGateway('/')
export class NotificationsGateway {
  constructor(private readonly notifications: NotificationsService) {}

  @SubscribeMessage('notification:read')
  read(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: NotificationReadDto,
  ): Promise<ClientAckData<'notification:read'>> {
    const { organizationId, userId } = socket.data.user;
    return this.notifications.read(organizationId, userId, body.notificationId);
  }
}
