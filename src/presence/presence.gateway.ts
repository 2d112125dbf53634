import { ConnectedSocket, MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { OptionalPayload } from '../gateway/optional-payload.js';
import { RealtimeGateway } from '../gateway/realtime-gateway.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { PresenceQueryDto, PresenceUpdateDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { PresenceService } from './presence.service.js';

/** `presence:query` may be sent without a payload (then: every online or away user). */
@OptionalPayload()
class PresenceQueryPayload extends PresenceQueryDto {}

@RealtimeGateway('/')
export class PresenceGateway {
  constructor(private readonly presence: PresenceService) {}

  @SubscribeMessage('presence:update')
  update(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: PresenceUpdateDto,
  ): Promise<ClientAckData<'presence:update'>> {
    const { organizationId, userId, role } = socket.data.user;
    return this.presence.update(organizationId, userId, body.status, role);
  }

  @SubscribeMessage('presence:query')
  query(
    @ConnectedSocket() socket: AppSocket,
    @MessageBody() body: PresenceQueryPayload,
  ): Promise<ClientAckData<'presence:query'>> {
    const { organizationId, role } = socket.data.user;
    return this.presence.query(organizationId, body.userIds, role);
  }
}
