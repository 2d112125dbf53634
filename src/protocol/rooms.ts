import type { Role } from './constants.js';

/** Room names: the one place they are spelled. */
export const rooms = {
  user: (userId: string) => `user:${userId}`,
  org: (orgId: string) => `org:${orgId}`,
  orgRole: (orgId: string, role: Role) => `org:${orgId}:role:${role}`,
  orgTopic: (orgId: string, topic: string) => `org:${orgId}:${topic}`,
  conversation: (conversationId: string) => `conversation:${conversationId}`,
  /**
   * A user's sessions within one organization. `user:<id>` is the contract's room, but the same
   * user id may exist in two organizations; deliveries of organization data use this one so a
   * socket of another organization can never receive them (invariant 1). Not subscribable: the
   * channel pattern allows no second `:` after the topic.
   */
  member: (orgId: string, userId: string) => `org:${orgId}:user:${userId}`,
};

/** The rooms a socket joins on connect and may never leave. */
export function automaticRooms(user: {
  userId: string;
  organizationId: string;
  role: Role;
}): string[] {
  return [
    rooms.user(user.userId),
    rooms.org(user.organizationId),
    rooms.orgRole(user.organizationId, user.role),
    rooms.member(user.organizationId, user.userId),
  ];
}
