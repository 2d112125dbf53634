/**
 * The contract as types: one map of client→server events (payload and ack data) and one of
 * server→client events. Used by the server, the client SDK, the tests and the benchmark.
 */
import type { ErrorObject } from './errors.js';
import type {
  Alert,
  Conversation,
  ConversationSummary,
  Message,
  Notification,
  PresenceEntry,
  PresenceStatus,
} from './models.js';
import type { Role } from './constants.js';

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorObject };
export type AckCallback<T> = (response: Ack<T>) => void;

/** Client → server: `payload` is what the client sends, `data` what a successful ack carries. */
export interface ClientEventSpec {
  ping: { payload: void; data: { pong: true; serverTime: string } };
  subscribe: { payload: { channel: string }; data: { channel: string } };
  unsubscribe: { payload: { channel: string }; data: { channel: string } };
  'conversation:create': {
    payload: { conversationId?: string; title?: string; participantIds: string[] };
    data: { conversation: Conversation };
  };
  'conversation:join': {
    payload: { conversationId: string; afterSeq?: number; limit?: number };
    data: { conversation: Conversation; messages: Message[]; hasMore: boolean; lastSeq: number };
  };
  'conversation:history': {
    payload: { conversationId: string; beforeSeq?: number; limit?: number };
    data: { messages: Message[]; hasMore: boolean };
  };
  'conversation:leave': { payload: { conversationId: string }; data: { conversationId: string } };
  /** The caller's conversations, most recent activity first (§12.6); `before` is a `nextCursor`. */
  'conversation:list': {
    payload: { before?: string; limit?: number } | undefined;
    data: { conversations: ConversationSummary[]; nextCursor: string | null };
  };
  'message:send': {
    payload: {
      messageId: string;
      conversationId: string;
      content: string;
      type?: 'text';
      metadata?: Record<string, unknown>;
    };
    data: { message: Message };
  };
  'message:edit': { payload: { messageId: string; content: string }; data: { message: Message } };
  'message:delete': {
    payload: { messageId: string };
    data: { messageId: string; deletedAt: string };
  };
  'message:delivered': {
    payload: { conversationId: string; messageId: string };
    data: { conversationId: string; messageId: string; deliveredAt: string };
  };
  'message:read': {
    payload: { conversationId: string; messageId: string };
    data: { conversationId: string; messageId: string; readAt: string };
  };
  'message:typing': {
    payload: { conversationId: string; isTyping: boolean };
    data: Record<string, never>;
  };
  'presence:update': { payload: { status: PresenceStatus }; data: { status: PresenceStatus } };
  'presence:query': {
    payload: { userIds?: string[] } | undefined;
    data: { users: PresenceEntry[] };
  };
  'notification:read': {
    payload: { notificationId: string };
    data: { notificationId: string; readAt: string };
  };
  'alert:acknowledge': {
    payload: { alertId: string };
    data: { alertId: string; acknowledgedAt: string };
  };
  'auth:refresh': { payload: { token: string }; data: { expiresAt: string } };
}

export type ClientEventName = keyof ClientEventSpec;
export type ClientPayload<E extends ClientEventName> = ClientEventSpec[E]['payload'];
export type ClientAckData<E extends ClientEventName> = ClientEventSpec[E]['data'];

/** Socket.IO-style listener map for client → server events (payload, then optional ack). */
export type ClientToServerEvents = {
  [E in ClientEventName]: ClientPayload<E> extends void
    ? (ack?: AckCallback<ClientAckData<E>>) => void
    : (payload: ClientPayload<E>, ack?: AckCallback<ClientAckData<E>>) => void;
};

export interface ServerEventSpec {
  'connection:confirmed': {
    userId: string;
    organizationId: string;
    role: Role;
    socketId: string;
    serverTime: string;
  };
  'conversation:new': { conversation: Conversation };
  'conversation:sync-required': { conversationId: string; deliveredSeq: number; lastSeq: number };
  /** Live events may have been missed (the node's adapter link recovered): catch up (§12.8). */
  'sync:required': { reason: 'adapter-recovered' };
  'message:new': { message: Message; replayed?: true };
  'message:edited': { message: Message };
  'message:deleted': { messageId: string; conversationId: string; deletedAt: string };
  'message:delivered': {
    conversationId: string;
    messageId: string;
    userId: string;
    deliveredAt: string;
  };
  'message:read': { conversationId: string; messageId: string; userId: string; readAt: string };
  'message:typing': { conversationId: string; userId: string; isTyping: boolean };
  'presence:changed': PresenceEntry;
  'notification:new': { notification: Notification };
  'notification:read': { notificationId: string; readAt: string };
  'notification:sync': { unread: Notification[]; unreadCount: number };
  'alert:emergency': { alert: Alert; replayed?: true; redelivered?: true };
  'alert:resolved': { alertId: string; resolvedAt: string };
  'alert:medication-reminder': { alert: Alert };
  'alert:health': { alert: Alert };
  'channel:message': { channel: string; event: string; data: unknown; publishedAt: string };
  'auth:expired': ErrorObject;
  error: ErrorObject;
  pong: { serverTime: string };
}

export type ServerEventName = keyof ServerEventSpec;
export type ServerToClientEvents = {
  [E in ServerEventName]: (payload: ServerEventSpec[E]) => void;
};

/** Events each namespace serves (§11). Anything else answers BAD_REQUEST. */
export const NAMESPACE_EVENTS: Record<'/' | '/communication', readonly ClientEventName[]> = {
  '/': [
    'ping',
    'subscribe',
    'unsubscribe',
    'conversation:create',
    'conversation:join',
    'conversation:history',
    'conversation:leave',
    'conversation:list',
    'message:send',
    'message:edit',
    'message:delete',
    'message:delivered',
    'message:read',
    'message:typing',
    'presence:update',
    'presence:query',
    'notification:read',
    'alert:acknowledge',
    'auth:refresh',
  ],
  '/communication': [
    'ping',
    'conversation:create',
    'conversation:join',
    'conversation:history',
    'conversation:leave',
    'conversation:list',
    'message:send',
    'message:edit',
    'message:delete',
    'message:delivered',
    'message:read',
    'message:typing',
    'auth:refresh',
  ],
};

/** Events of §6 that are delivered in both namespaces (conversation and message events). */
export function isCommunicationEvent(event: ServerEventName): boolean {
  return event.startsWith('conversation:') || event.startsWith('message:');
}
