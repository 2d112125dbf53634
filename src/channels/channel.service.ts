import { Injectable } from '@nestjs/common';
import type { AppSocket } from '../gateway/socket.types.js';
import { CHANNEL_PATTERN } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import { automaticRooms, rooms } from '../protocol/rooms.js';
import { RealtimePublisher } from '../sessions/realtime.publisher.js';

export interface ParsedChannel {
  kind: 'org' | 'user';
  id: string;
  topic?: string;
}

/** Parses a channel name (§11, §12.1 pattern) or throws VALIDATION_ERROR on `channel`. */
export function parseChannel(channel: string, field = 'channel'): ParsedChannel {
  if (!CHANNEL_PATTERN.test(channel))
    throw AppError.validation([{ field, constraints: ['matches'] }]);
  const [kind, id, topic] = channel.split(':');
  return { kind: kind as 'org' | 'user', id, ...(topic !== undefined ? { topic } : {}) };
}

/**
 * The room that carries a channel. `org:` channels are rooms of their own name; a `user:` channel
 * names a user of one organization (§12.1), so its room is that user's within `organizationId`:
 * `user:<id>` → `user:<org>:<id>` (the automatic room of the user's sockets), `user:<id>:<topic>`
 * → `user:<org>:<id>:<topic>`. Publishing to `user:nurse-1` in org A can never reach org B's
 * `nurse-1`.
 */
export function channelRoom(parsed: ParsedChannel, organizationId: string): string {
  if (parsed.kind === 'org')
    return parsed.topic === undefined
      ? rooms.org(parsed.id)
      : rooms.orgTopic(parsed.id, parsed.topic);
  const key = { organizationId, userId: parsed.id };
  return parsed.topic === undefined
    ? rooms.member(organizationId, parsed.id)
    : rooms.memberTopic(key, parsed.topic);
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

/** Subscribe rules (§5, §11, §12.1, §12.3) and channel publishing. */
@Injectable()
export class ChannelService {
  constructor(private readonly publisher: RealtimePublisher) {}

  /** May this user subscribe to the channel? Returns its room, or throws the contract's error. */
  authorize(socket: AppSocket, channel: string): string {
    const { userId, organizationId } = socket.data.user;
    const parsed = parseChannel(channel);
    if (parsed.topic === 'role') throw AppError.forbidden('The role topic is reserved');
    if (parsed.kind === 'org' && parsed.id !== organizationId)
      throw AppError.forbidden('Channel of another organization');
    if (parsed.kind === 'user' && parsed.id !== userId)
      throw AppError.forbidden('Channel of another user');
    return channelRoom(parsed, organizationId);
  }

  async subscribe(socket: AppSocket, channel: string): Promise<{ channel: string }> {
    const room = this.authorize(socket, channel);
    // §12.3: at most 100 subscribed channels per socket besides its automatic rooms; a channel
    // it already holds is not counted again.
    if (!socket.rooms.has(room) && subscribedChannels(socket) >= MAX_SUBSCRIPTIONS)
      throw AppError.badRequest(`At most ${MAX_SUBSCRIPTIONS} subscribed channels per connection`);
    await socket.join(room);
    return { channel };
  }

  async unsubscribe(socket: AppSocket, channel: string): Promise<{ channel: string }> {
    const user = socket.data.user;
    if (channel === `user:${user.userId}` || automaticRooms(user).includes(channel)) {
      throw AppError.badRequest('Automatic rooms cannot be left');
    }
    const room = this.authorize(socket, channel);
    await socket.leave(room);
    return { channel };
  }

  /**
   * `channel:message` to the subscribers of a channel (the HTTP publish API). A `user:` channel
   * is delivered within `organizationId` only; for an `org:` channel the caller has checked that
   * `organizationId` is the channel's.
   */
  publish(
    channel: string,
    event: string,
    data: unknown,
    organizationId: string,
  ): { channel: string; publishedAt: string } {
    const room = channelRoom(parseChannel(channel), organizationId);
    const publishedAt = new Date().toISOString();
    this.publisher.toRooms([room], 'channel:message', { channel, event, data, publishedAt });
    return { channel, publishedAt };
  }
}
