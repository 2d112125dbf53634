/**
 * A user is (organizationId, userId) (§12.1): the same user id in two organizations is two
 * different users. Everything kept per user — rooms, rate-limit buckets, the connection cap,
 * presence, revocations — is keyed by both, through this type and its one string form.
 */
export interface UserKey {
  organizationId: string;
  userId: string;
}

/**
 * The one string form of a UserKey: `<organizationId>:<userId>`. Both ids match
 * `^[A-Za-z0-9_-]{1,64}$` (no `:`), so the form is unambiguous and a prefix `<org>:<user>:`
 * never matches another user's keys.
 */
export function userKeyString(key: UserKey): string {
  return `${key.organizationId}:${key.userId}`;
}

export function userKey(organizationId: string, userId: string): UserKey {
  return { organizationId, userId };
}
