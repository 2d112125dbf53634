import { Injectable } from '@nestjs/common';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import type { Session } from '../gateway/publisher/session.js';
import type { AuthenticatedUser } from '../protocol/models.js';
import { CHANNEL_PATTERN } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import { automaticRooms, rooms } from '../protocol/rooms.js';

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
 * The channels a session subscribed to, given its rooms: minus its own id room, the automatic
 * rooms and the conversation rooms (joined by `conversation:join`, not by `subscribe`).
 */
export function subscribedChannels(session: Session, sessionRooms: ReadonlySet<string>): number {
  const automatic = automaticRooms(session.user);
  let n = 0;
  for (const room of sessionRooms) {
    if (room === session.id || room.startsWith('conversation:') || automatic.includes(room))
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
  authorize(user: AuthenticatedUser, channel: string): string {
    const { userId, organizationId } = user;
    const parsed = parseChannel(channel);
    if (parsed.topic === 'role') throw AppError.forbidden('The role topic is reserved');
    if (parsed.kind === 'org' && parsed.id !== organizationId)
      throw AppError.forbidden('Channel of another organization');
    if (parsed.kind === 'user' && parsed.id !== userId)
      throw AppError.forbidden('Channel of another user');
    return channelRoom(parsed, organizationId);
  }

  async subscribe(session: Session, channel: string): Promise<{ channel: string }> {
    const room = this.authorize(session.user, channel);
    // §12.3: at most 100 subscribed channels per socket besides its automatic rooms; a channel
    // it already holds is not counted again.
    const held = this.publisher.roomsOf(session);
    if (!held.has(room) && subscribedChannels(session, held) >= MAX_SUBSCRIPTIONS)
      throw AppError.badRequest(`At most ${MAX_SUBSCRIPTIONS} subscribed channels per connection`);
    await this.publisher.join(session, room);
    return { channel };
  }

  async unsubscribe(session: Session, channel: string): Promise<{ channel: string }> {
    const user = session.user;
    if (channel === `user:${user.userId}` || automaticRooms(user).includes(channel)) {
      throw AppError.badRequest('Automatic rooms cannot be left');
    }
    const room = this.authorize(user, channel);
    await this.publisher.leave(session, room);
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
