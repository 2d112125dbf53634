/**
 * The event catalog: what the DTOs and the typed event map cannot say — what each event is for,
 * who hears about it, what its ack carries, what the server sends, and the §6 shapes. Client
 * payload schemas are not written here: they are read from the DTO classes
 * (`CLIENT_EVENT_DTOS`, `dtoSchema`). The documentation (docs/events.md, docs/asyncapi.yaml) is
 * generated from this file, the DTOs, NAMESPACE_EVENTS and DEFAULT_RATE_LIMITS, and a test fails
 * when they drift. The shapes written here are typed (`Typed<T>`): the compiler checks each ack
 * against `ClientAckData<E>`, each server payload against `ServerEventSpec[E]` and each model
 * against models.ts, and a missing or extra event entry is a compile error too.
 */
import { ERROR_TYPES, type ErrorObject } from './errors.js';
import { ROLES } from './constants.js';
import type { OptionalPayloadEvent } from './dto/client-events.js';
import type { ClientAckData, ClientEventName, ServerEventName, ServerEventSpec } from './events.js';
import type * as M from './models.js';
import { obj, type Schema, type Typed, type TypeOf } from './schema.js';

// Typed builders: each returns a schema together with the type it describes, so the compiler
// checks every hand-written shape below against the event map and models.ts.
const str = (extra: Schema = {}): Typed<string> => ({ type: 'string', ...extra });
const time: Typed<string> = { type: 'string', format: 'date-time' };
const nullableTime: Typed<string | null> = { type: ['string', 'null'], format: 'date-time' };
const nullableStr: Typed<string | null> = { type: ['string', 'null'] };
const int = (minimum?: number): Typed<number> => ({
  type: 'integer',
  ...(minimum !== undefined ? { minimum } : {}),
});
const bool: Typed<boolean> = { type: 'boolean' };
const yes: Typed<true> = { type: 'boolean', const: true };
const literal = <const V extends string>(value: V): Typed<V> => ({ type: 'string', const: value });
const oneOf = <const V extends readonly string[]>(values: V): Typed<V[number]> => ({
  type: 'string',
  enum: values,
});
const arr = <T>(items: Typed<T>): Typed<T[]> => ({ type: 'array', items });
const nullable = <T>(s: Typed<T>): Typed<T | null> => ({ oneOf: [s, { type: 'null' }] });
const freeObject: Typed<Record<string, unknown>> = { type: 'object', additionalProperties: true };
/** Any JSON value (`details`, `data`), with what it holds in words. */
const anyValue = (description?: string): Typed<unknown> => (description ? { description } : {});

interface Models {
  Message: M.Message;
  Conversation: M.Conversation;
  Notification: M.Notification;
  Alert: M.Alert;
  ConversationSummary: M.ConversationSummary;
  PresenceEntry: M.PresenceEntry;
  ErrorObject: ErrorObject;
}
const ref = <K extends keyof Models>(name: K): Typed<Models[K]> => ({
  $ref: `#/components/schemas/${name}`,
});

/** A closed object of `properties`, all required but the `optional` ones. */
function object<P extends Record<string, Schema>, O extends keyof P & string = never>(
  properties: P,
  optional: readonly O[] = [],
): Typed<
  { [K in Exclude<keyof P, O>]: TypeOf<P[K]> } & { [K in O]?: TypeOf<P[K]> } extends infer T
    ? { [K in keyof T]: T[K] }
    : never
> {
  return obj(properties, [...optional]);
}

/** Shapes of §6 (src/protocol/models.ts) and the §8 error object. */
export const MODEL_SCHEMAS: { [K in keyof Models]: Typed<Models[K]> } = {
  Message: object({
    id: str({ format: 'uuid' }),
    conversationId: str(),
    seq: int(1),
    senderId: str(),
    organizationId: str(),
    type: literal('text'),
    content: str({ description: 'empty once deleted' }),
    metadata: freeObject,
    createdAt: time,
    editedAt: nullableTime,
    deletedAt: nullableTime,
  }),
  Conversation: object({
    id: str(),
    organizationId: str(),
    title: nullableStr,
    participantIds: arr(str()),
    createdBy: str(),
    createdAt: time,
    lastSeq: int(0),
  }),
  Notification: object({
    id: str(),
    type: str(),
    title: str(),
    body: nullableStr,
    priority: oneOf(['low', 'normal', 'high', 'critical']),
    data: freeObject,
    createdAt: time,
    readAt: nullableTime,
  }),
  Alert: object(
    {
      id: str(),
      kind: oneOf(['emergency', 'medication-reminder', 'health']),
      organizationId: str(),
      severity: oneOf(['info', 'warning', 'critical']),
      title: str(),
      message: str(),
      studentId: str(),
      location: str(),
      dueAt: time,
      createdAt: time,
      expiresAt: time,
      resolvedAt: time,
    },
    ['studentId', 'location', 'dueAt', 'expiresAt', 'resolvedAt'],
  ),
  ConversationSummary: object({
    conversation: ref('Conversation'),
    lastMessage: nullable(ref('Message')),
    unreadCount: int(0),
    deliveredSeq: int(0),
    readSeq: int(0),
  }),
  PresenceEntry: object({
    userId: str(),
    status: oneOf(['online', 'away', 'offline']),
    lastSeenAt: nullableTime,
  }),
  ErrorObject: object(
    {
      type: oneOf(ERROR_TYPES),
      message: str(),
      timestamp: time,
      requestId: str(),
      event: str(),
      details: anyValue(
        'VALIDATION_ERROR: [{field, constraints}]; RATE_LIMIT_EXCEEDED: {retryAfterMs}',
      ),
    },
    ['requestId', 'event', 'details'],
  ),
};

export interface ClientEventDoc {
  /** The payload may be omitted (exactly the events whose event-map payload admits `undefined`). */
  optionalPayload?: true;
  summary: string;
  /** Success ack `data`. */
  ack: Schema;
  /** Who hears about it when it succeeds. */
  effects: string;
  /** Rate-limit behaviour beyond the bucket (e.g. typing is dropped silently). */
  rateLimitNote?: string;
}

/** `optionalPayload: true` required where the event map allows no payload, refused elsewhere. */
type ClientEventDocs = {
  [E in ClientEventName]: ClientEventDoc & {
    ack: Typed<ClientAckData<E>>;
  } & (E extends OptionalPayloadEvent ? { optionalPayload: true } : { optionalPayload?: never });
};

export const CLIENT_EVENTS = {
  ping: {
    summary: 'Round trip / clock check. Without an ack callback the server emits `pong` instead.',
    ack: object({ pong: yes, serverTime: time }),
    effects: 'none (or `pong` to the sender without an ack)',
  },
  subscribe: {
    summary:
      'Join a channel: `org:<own org>`, `org:<own org>:<topic>`, `user:<own id>` or `user:<own id>:<topic>` (topic `^[a-z0-9-]{1,32}$`, not `role`). Another org or user → AUTHORIZATION_FAILED; malformed → VALIDATION_ERROR.',
    ack: object({ channel: str() }),
    effects: 'the socket receives `channel:message` for that channel',
  },
  unsubscribe: {
    summary:
      'Leave a channel. The automatic `user:<own id>`, `org:` and role rooms cannot be left (BAD_REQUEST).',
    ack: object({ channel: str() }),
    effects: 'none',
  },
  'conversation:create': {
    summary:
      'Create a conversation in the caller’s organization (creator added). The same `conversationId` from the same creator returns the same conversation; from another creator → CONFLICT.',
    ack: object({ conversation: ref('Conversation') }),
    effects: '`conversation:new` to every session of every participant (once, not on repeats)',
  },
  'conversation:join': {
    summary:
      'Participants only. Joins the room `conversation:<id>` and returns messages with `seq > afterSeq` (oldest first, at most `limit`), or the newest `limit` without `afterSeq`. The catch-up call after a reconnect.',
    ack: object({
      conversation: ref('Conversation'),
      messages: arr(ref('Message')),
      hasMore: bool,
      lastSeq: int(0),
    }),
    effects: 'the socket receives typing and receipts of the room',
  },
  'conversation:history': {
    summary:
      'Older pages (participants only): messages with `seq < beforeSeq` (default `lastSeq + 1`), oldest first.',
    ack: object({ messages: arr(ref('Message')), hasMore: bool }),
    effects: 'none',
  },
  'conversation:leave': {
    summary:
      'Leaves the room, not the membership (`message:new` still reaches every session of a participant).',
    ack: object({ conversationId: str() }),
    effects: 'none',
  },
  'conversation:list': {
    optionalPayload: true,
    summary:
      'The caller’s conversations in its organization, most recent activity first (last message, else creation; ties by id), `limit` per page (1..100, default 50). `before` is the `nextCursor` of the previous page (opaque; `null` on the last page; a malformed one → VALIDATION_ERROR). `lastMessage` is `null` for an empty conversation; `unreadCount` counts messages above the caller’s read cursor (one’s own sends move it). Keyset paging: a conversation whose activity did not change is never repeated or skipped; one with a new message moves to the front.',
    ack: object({
      conversations: arr(ref('ConversationSummary')),
      nextCursor: nullableStr,
    }),
    effects: 'none',
  },
  'message:send': {
    summary:
      'Participants only. `messageId` (uuid v4, chosen by the client) is the idempotency key: the same id from the same sender returns the stored message and broadcasts nothing new; used by another sender or in another conversation → CONFLICT. The ack comes after the message is durably stored.',
    ack: object({ message: ref('Message') }),
    effects: '`message:new` to every session of every participant (sender included) and the room',
  },
  'message:edit': {
    summary: 'The sender only; content limits as for send; a deleted message → RESOURCE_NOT_FOUND.',
    ack: object({ message: ref('Message') }),
    effects: '`message:edited`, audience as `message:new`',
  },
  'message:delete': {
    summary:
      'The sender or an `admin` of the organization. Soft delete: content becomes "" and metadata {}.',
    ack: object({ messageId: str(), deletedAt: time }),
    effects: '`message:deleted`, audience as `message:new`',
  },
  'message:delivered': {
    summary: 'Moves the caller’s delivered cursor up to that message’s `seq` (never back).',
    ack: object({ conversationId: str(), messageId: str(), deliveredAt: time }),
    effects:
      '`message:delivered` to the room and the message sender’s sessions, only when the cursor moved',
  },
  'message:read': {
    summary: 'Moves the read cursor (and the delivered cursor) up to that message’s `seq`.',
    ack: object({ conversationId: str(), messageId: str(), readAt: time }),
    effects:
      '`message:read` (only) to the room and every participant’s sessions, only when the cursor moved',
  },
  'message:typing': {
    summary: 'Typing indicator; a non-participant → AUTHORIZATION_FAILED.',
    ack: object({}),
    effects: '`message:typing` to the conversation room except the typing socket',
    rateLimitNote: 'over the limit the ack is still `{ok: true, data: {}}` and nothing is emitted',
  },
  'presence:update': {
    summary: 'Set own status; `offline` means appear offline. Holds while the user has sessions.',
    ack: object({ status: oneOf(['online', 'away', 'offline']) }),
    effects:
      '`presence:changed` when the aggregate status changes: to the organization, or for a `parent` to its admin, nurse, staff and service sessions only (§12.5)',
  },
  'presence:query': {
    optionalPayload: true,
    summary:
      'Own organization only. Without `userIds`: everyone `online` or `away`. Unknown or other-organization ids come back `offline` with `lastSeenAt: null`. Asked by a `parent`: parents are left out of the list and come back `offline` with `lastSeenAt: null` when named (§12.5).',
    ack: object({ users: arr(ref('PresenceEntry')) }),
    effects: 'none',
  },
  'notification:read': {
    summary:
      'Own notifications only (another user’s → RESOURCE_NOT_FOUND); reading twice returns the first `readAt`.',
    ack: object({ notificationId: str(), readAt: time }),
    effects: '`notification:read` to every session of the reader',
  },
  'alert:acknowledge': {
    summary:
      'Recipients only (a member who is not a recipient → AUTHORIZATION_FAILED; another organization’s alert → RESOURCE_NOT_FOUND). Stops re-delivery of an emergency alert to that user; recorded in the audit trail.',
    ack: object({ alertId: str(), acknowledgedAt: time }),
    effects: 'none',
  },
  'auth:refresh': {
    summary:
      'Replace the session token before it expires: same user and organization only (else AUTHORIZATION_FAILED); invalid or expired → AUTHENTICATION_FAILED; a failed refresh leaves the session as it was. `expiresAt` is the new token’s `exp`.',
    ack: object({ expiresAt: time }),
    effects: 'the socket’s expiry timer moves to the new `exp` (+ clock tolerance)',
  },
} satisfies ClientEventDocs;

export interface ServerEventDoc {
  summary: string;
  payload: Schema;
  audience: string;
  namespaces: ReadonlyArray<'/' | '/communication'>;
}

const BOTH = ['/', '/communication'] as const;
const ROOT = ['/'] as const;
const replayed = yes;

export const SERVER_EVENTS = {
  'connection:confirmed': {
    summary: 'First event of every session, before anything else (§4).',
    payload: object({
      userId: str(),
      organizationId: str(),
      role: oneOf(ROLES),
      socketId: str(),
      serverTime: time,
    }),
    audience: 'the new socket',
    namespaces: BOTH,
  },
  'conversation:new': {
    summary: 'A conversation the user takes part in was created.',
    payload: object({ conversation: ref('Conversation') }),
    audience: 'every session of every participant',
    namespaces: BOTH,
  },
  'conversation:sync-required': {
    summary:
      'Sent on connect instead of replaying more than 100 undelivered messages of one conversation, and, when the replay could not be read (database unavailable at connect), for every conversation the session is behind in once the database answers again: page with `conversation:join` `afterSeq`.',
    payload: object({ conversationId: str(), deliveredSeq: int(0), lastSeq: int(0) }),
    audience: 'the new socket',
    namespaces: BOTH,
  },
  'sync:required': {
    summary:
      'Live events from other nodes may have been missed (this node’s link to the adapter’s Redis came back after an outage): catch up every tracked conversation with `conversation:join` `afterSeq` (the SDK does it by itself).',
    payload: object({ reason: oneOf(['adapter-recovered']) }),
    audience: 'every socket of the recovered node',
    namespaces: BOTH,
  },
  'message:new': {
    summary:
      'A new message; `replayed: true` when replayed on connect (seq above the delivered cursor, oldest first).',
    payload: object({ message: ref('Message'), replayed }, ['replayed']),
    audience:
      'every session of every participant (joined or not, sender included) and the conversation room',
    namespaces: BOTH,
  },
  'message:edited': {
    summary: 'A message was edited.',
    payload: object({ message: ref('Message') }),
    audience: 'as `message:new`',
    namespaces: BOTH,
  },
  'message:deleted': {
    summary: 'A message was soft-deleted.',
    payload: object({ messageId: str(), conversationId: str(), deletedAt: time }),
    audience: 'as `message:new`',
    namespaces: BOTH,
  },
  'message:delivered': {
    summary: 'A participant’s delivered cursor moved up to this message.',
    payload: object({ conversationId: str(), messageId: str(), userId: str(), deliveredAt: time }),
    audience: 'the conversation room and the message sender’s sessions',
    namespaces: BOTH,
  },
  'message:read': {
    summary: 'A participant’s read cursor moved up to this message.',
    payload: object({ conversationId: str(), messageId: str(), userId: str(), readAt: time }),
    audience: 'the conversation room and the sessions of every participant',
    namespaces: BOTH,
  },
  'message:typing': {
    summary: 'Someone is (not) typing.',
    payload: object({ conversationId: str(), userId: str(), isTyping: bool }),
    audience: 'the conversation room except the typing socket',
    namespaces: BOTH,
  },
  'presence:changed': {
    summary:
      'A user’s aggregate status changed (first session online, last session gone, or `presence:update`).',
    payload: ref('PresenceEntry'),
    audience:
      '`org:<organizationId>`; a `parent`’s only to the organization’s admin, nurse, staff and service sessions (§12.5)',
    namespaces: ROOT,
  },
  'notification:new': {
    summary: 'A notification created through `POST /api/v1/notifications`.',
    payload: object({ notification: ref('Notification') }),
    audience: 'every session of the recipient',
    namespaces: ROOT,
  },
  'notification:read': {
    summary: 'The user read a notification (any of their sessions).',
    payload: object({ notificationId: str(), readAt: time }),
    audience: 'every session of the reader',
    namespaces: ROOT,
  },
  'notification:sync': {
    summary:
      'On connect: the newest 100 unread notifications and the total unread count (when the database did not answer at the connect, once it does).',
    payload: object({ unread: arr(ref('Notification')), unreadCount: int(0) }),
    audience: 'the new socket',
    namespaces: ROOT,
  },
  'alert:emergency': {
    summary:
      'An emergency alert. `replayed: true` on connect while it is active and unacknowledged; `redelivered: true` on the periodic re-send (every ALERT_RESEND_INTERVAL_MS) until acknowledged, resolved or expired.',
    payload: object({ alert: ref('Alert'), replayed, redelivered: replayed }, [
      'replayed',
      'redelivered',
    ]),
    audience: 'the whole organization, and new sockets while active',
    namespaces: ROOT,
  },
  'alert:resolved': {
    summary: 'An alert was resolved (`POST /api/v1/alerts/:id/resolve`).',
    payload: object({ alertId: str(), resolvedAt: time }),
    audience: 'as the alert',
    namespaces: ROOT,
  },
  'alert:medication-reminder': {
    summary: 'A medication reminder for a student (severity defaults to `info`).',
    payload: object({ alert: ref('Alert') }),
    audience: 'the target users/roles (default role `nurse`)',
    namespaces: ROOT,
  },
  'alert:health': {
    summary: 'A student health alert.',
    payload: object({ alert: ref('Alert') }),
    audience: 'the target users/roles (default roles `nurse`, `admin`)',
    namespaces: ROOT,
  },
  'alert:escalated': {
    summary:
      'Nobody acknowledged an emergency (or critical health) alert within ALERT_ESCALATION_AFTER_MS, and the escalation webhook accepted it (once per alert). `escalatedAt` is the time of the first webhook attempt.',
    payload: object({ alertId: str(), escalatedAt: time }),
    audience: 'the organization’s admins (`org:<organizationId>:role:admin`)',
    namespaces: ROOT,
  },
  'channel:message': {
    summary: 'Published through `POST /api/v1/channels/publish`.',
    payload: object({ channel: str(), event: str(), data: anyValue(), publishedAt: time }),
    audience:
      'subscribers of the channel; a `user:` channel reaches that user’s sessions in one organization only (§12.1)',
    namespaces: ROOT,
  },
  'auth:expired': {
    summary:
      'The token expired (or the session was revoked: the message says so). The server disconnects the socket right after (`io server disconnect`): reconnect only with a fresh token.',
    payload: ref('ErrorObject'),
    audience: 'the socket, just before it is dropped',
    namespaces: BOTH,
  },
  error: {
    summary: 'A client event failed and had no ack callback.',
    payload: ref('ErrorObject'),
    audience: 'the socket whose event failed',
    namespaces: BOTH,
  },
  pong: {
    summary: 'Answer to `ping` sent without an ack callback.',
    payload: object({ serverTime: time }),
    audience: 'the socket that pinged',
    namespaces: BOTH,
  },
} satisfies { [E in ServerEventName]: ServerEventDoc & { payload: Typed<ServerEventSpec[E]> } };
