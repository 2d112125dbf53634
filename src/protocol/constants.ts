/** Ids of users and organizations (§3). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Subscribable channels (§11). */
export const CHANNEL_PATTERN =
  /^(org:[A-Za-z0-9_-]{1,64}(:[a-z0-9-]{1,32})?|user:[A-Za-z0-9_-]{1,64})$/;
export const TOPIC_PATTERN = /^[a-z0-9-]{1,32}$/;
/** Roles and namespaces: defined once in the SDK package, re-exported for server code. */
export {
  NAMESPACES,
  ROLES,
  type NamespaceName,
  type Role,
} from '@white-cross/realtime-client/protocol/constants';
export const MAX_PAYLOAD_DEPTH = 8;
export const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
export const REPLAY_LIMIT = 100;
export const NOTIFICATION_SYNC_LIMIT = 100;
