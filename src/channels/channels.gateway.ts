import { sessionOf } from '../gateway/publisher/session-of.js';
import { RealtimeEvent, RealtimeGateway } from '../gateway/router/realtime-event.decorator.js';
import type { AppSocket } from '../gateway/socket.types.js';
import { ChannelDto } from '../protocol/dto/client.dto.js';
import type { ClientAckData } from '../protocol/events.js';
import { ChannelService } from './channel.service.js';

/** `subscribe` / `unsubscribe` (§5: default namespace only). */
@RealtimeGateway(['/'])
export class ChannelsGateway {
  constructor(private readonly channels: ChannelService) {}

  @RealtimeEvent('subscribe')
  subscribe(socket: AppSocket, body: ChannelDto): Promise<ClientAckData<'subscribe'>> {
    return this.channels.subscribe(sessionOf(socket), body.channel);
  }

  @RealtimeEvent('unsubscribe')
  unsubscribe(socket: AppSocket, body: ChannelDto): Promise<ClientAckData<'unsubscribe'>> {
    return this.channels.unsubscribe(sessionOf(socket), body.channel);
  }
}
