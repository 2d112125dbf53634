import { RealtimeEvent, RealtimeGateway } from '../gateway/router/realtime-event.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { PresenceQueryDto, PresenceUpdateDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { PresenceService } from './presence.service.js';

@RealtimeGateway(['/'])
export class PresenceGateway {
  constructor(private readonly presence: PresenceService) {}

  @RealtimeEvent('presence:update')
  update(socket: AppSocket, body: PresenceUpdateDto): Promise<ClientAckData<'presence:update'>> {
    const { organizationId, userId, role } = socket.data.user;
    return this.presence.update(organizationId, userId, body.status, role);
  }

  /** May be sent without a payload (then: every online or away user). */
  @RealtimeEvent('presence:query', { optionalPayload: true })
  query(socket: AppSocket, body: PresenceQueryDto): Promise<ClientAckData<'presence:query'>> {
    const { organizationId, role } = socket.data.user;
    return this.presence.query(organizationId, body.userIds, role);
  }
}
