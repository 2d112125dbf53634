import { Injectable } from '@nestjs/common';
import type { AppSocket } from '../gateway/socket.types.js';
import { CHANNEL_PATTERN } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import { automaticRooms } from '../protocol/rooms.js';
import { RealtimePublisher } from '../sessions/realtime.publisher.js';

export interface ParsedChannel {
  kind: 'org' | 'user';
  id: string;
  topic?: string;
}

/** Parses a channel name (§11 pattern) or throws VALIDATION_ERROR on `channel`. */
export function parseChannel(channel: string, field = 'channel'): ParsedChannel {
  if (!CHANNEL_PATTERN.test(channel))
    throw AppError.validation([{ field, constraints: ['matches'] }]);
  const [kind, id, topic] = channel.split(':');
  return { kind: kind as 'org' | 'user', id, ...(topic !== undefined ? { topic } : {}) };
}

/** Channels one socket may hold besides its automatic rooms (§12.3). */
export const MAX_SUBSCRIPTIONS = 100;

/**
 * The channels a socket subscribed to: its rooms minus its own id room, the automatic rooms and
 * the conversation rooms (joined by `conversation:join`, not by `subscribe`).
 */
export function subscribedChannels(socket: AppSocket): number {
  const automatic = automaticRooms(socket.data.user);
  let n = 0;
  for (const room of socket.rooms) {
    if (room === socket.id || room.startsWith('conversation:') || automatic.includes(room))
      continue;
    n++;
  }
  return n;
}

/** Subscribe rules (§5, §11) and channel publishing. */
@Injectable()
export class ChannelService {
  constructor(private readonly publisher: RealtimePublisher) {}

  /** May this user subscribe to the channel? Throws the contract's error if not. */
  authorize(socket: AppSocket, channel: string): void {
    const { userId, organizationId } = socket.data.user;
    const parsed = parseChannel(channel);
    if (parsed.topic === 'role') throw AppError.forbidden('The role topic is reserved');
    if (parsed.kind === 'org' && parsed.id !== organizationId)
      throw AppError.forbidden('Channel of another organization');
    if (parsed.kind === 'user' && parsed.id !== userId)
      throw AppError.forbidden('Channel of another user');
  }

  async subscribe(socket: AppSocket, channel: string): Promise<{ channel: string }> {
    this.authorize(socket, channel);
    // §12.3: at most 100 subscribed channels per socket besides its automatic rooms; a channel
    // it already holds is not counted again.
    if (!socket.rooms.has(channel) && subscribedChannels(socket) >= MAX_SUBSCRIPTIONS)
      throw AppError.badRequest(`At most ${MAX_SUBSCRIPTIONS} subscribed channels per connection`);
    await socket.join(channel);
    return { channel };
  }

  async unsubscribe(socket: AppSocket, channel: string): Promise<{ channel: string }> {
    if (automaticRooms(socket.data.user).includes(channel)) {
      throw AppError.badRequest('Automatic rooms cannot be left');
    }
    this.authorize(socket, channel);
    await socket.leave(channel);
    return { channel };
  }

  /** `channel:message` to the subscribers of a channel (the HTTP publish API). */
  publish(channel: string, event: string, data: unknown): { channel: string; publishedAt: string } {
    parseChannel(channel);
    const publishedAt = new Date().toISOString();
    this.publisher.toRooms([channel], 'channel:message', { channel, event, data, publishedAt });
    return { channel, publishedAt };
  }
}
