import { RealtimeEvent, RealtimeGateway } from '../gateway/router/realtime-event.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { AlertAcknowledgeDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { AlertAcknowledgement } from './alert-acknowledgement.service.js';

@RealtimeGateway(['/'])
export class AlertsGateway {
  constructor(private readonly acknowledgement: AlertAcknowledgement) {}

  @RealtimeEvent('alert:acknowledge')
  acknowledge(
    socket: AppSocket,
    body: AlertAcknowledgeDto,
  ): Promise<ClientAckData<'alert:acknowledge'>> {
    const { organizationId, userId } = socket.data.user;
    return this.acknowledgement.acknowledge(organizationId, userId, body.alertId);
  }
}
