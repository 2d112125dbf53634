import type { Role } from './constants.js';
import { userKeyString, type UserKey } from './user-key.js';

/**
 * Room names: the one place they are spelled. Rooms of an organization start with `org:`, rooms
 * of a user with `user:<org>:<user>` (§12.1: a user is (organizationId, userId)), conversations
 * with `conversation:`; the three families cannot produce each other's names, so no channel a
 * client may subscribe to ever names another family's room.
 */
export const rooms = {
  org: (orgId: string) => `org:${orgId}`,
  orgRole: (orgId: string, role: Role) => `org:${orgId}:role:${role}`,
  orgTopic: (orgId: string, topic: string) => `org:${orgId}:${topic}`,
  conversation: (conversationId: string) => `conversation:${conversationId}`,
  /**
   * A user's sessions within one organization: `user:<org>:<user>`, the room of the channel
   * `user:<user>` for a socket of `<org>`. The bare `user:<id>` of the contract is a channel
   * name, never a room: equal ids of two organizations must not share a room (invariant 1).
   */
  member: (orgId: string, userId: string) =>
    `user:${userKeyString({ organizationId: orgId, userId })}`,
  /** The room of channel `user:<user>:<topic>` within `<org>`. */
  memberTopic: (key: UserKey, topic: string) => `user:${userKeyString(key)}:${topic}`,
};

/** The rooms a socket joins on connect and may never leave. */
export function automaticRooms(user: {
  userId: string;
  organizationId: string;
  role: Role;
}): string[] {
  return [
    rooms.org(user.organizationId),
    rooms.orgRole(user.organizationId, user.role),
    rooms.member(user.organizationId, user.userId),
  ];
}

/** The role rooms that see a parent's presence (§12.5): everyone but parents. */
export const PRESENCE_STAFF_ROLES: readonly Role[] = ['admin', 'nurse', 'staff', 'service'];
