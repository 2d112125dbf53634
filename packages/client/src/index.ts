/**
 * Typed client SDK for the White Cross real-time server (`@white-cross/realtime-client`).
 * Browser and Node; one dependency: socket.io-client.
 */
export { connect, newMessageId, RealtimeClient } from './realtime-client.js';
export type {
  ClientLifecycleEvents,
  ConnectionState,
  ConversationPage,
  EmitArgs,
  ListenableEvent,
  ListenerMap,
  RealtimeClientOptions,
  SendMessageOptions,
  ServerListener,
  TokenProvider,
} from './realtime-client.js';
export { RealtimeError, type ClientErrorType } from './errors.js';
export { Outbox, type OutboxEntry, type OutboxStorage } from './outbox.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { decodeJwtExp } from './jwt.js';
export { MessageTracker } from './message-tracker.js';
export type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientEventSpec,
  ClientPayload,
  ServerEventName,
  ServerEventSpec,
} from './protocol/events.js';
export type { ErrorObject, ErrorType, ValidationDetail } from './protocol/errors.js';
export type {
  Alert,
  Conversation,
  ConversationSummary,
  Message,
  Notification,
  PresenceEntry,
  PresenceStatus,
} from './protocol/models.js';
export type { NamespaceName, Role } from './protocol/constants.js';
