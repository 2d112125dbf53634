import { RealtimeEvent, RealtimeGateway } from '../gateway/router/realtime-event.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { NotificationReadDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { NotificationsService } from './notifications.service.js';

@RealtimeGateway(['/'])
export class NotificationsGateway {
  constructor(private readonly notifications: NotificationsService) {}

  @RealtimeEvent('notification:read')
  read(socket: AppSocket, body: NotificationReadDto): Promise<ClientAckData<'notification:read'>> {
    const { organizationId, userId } = socket.data.user;
    return this.notifications.read(organizationId, userId, body.notificationId);
  }
}
