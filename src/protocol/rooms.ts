import type { Role } from './constants.js';

/** Room names: the one place they are spelled. */
export const rooms = {
  user: (userId: string) => `user:${userId}`,
  org: (orgId: string) => `org:${orgId}`,
  orgRole: (orgId: string, role: Role) => `org:${orgId}:role:${role}`,
  orgTopic: (orgId: string, topic: string) => `org:${orgId}:${topic}`,
  conversation: (conversationId: string) => `conversation:${conversationId}`,
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
  ];
}
