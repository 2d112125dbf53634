import { DiscoveryService } from '@nestjs/core';
import type { NamespaceName } from '../../protocol/constants.js';
import { CLIENT_EVENT_DTOS } from '../../protocol/dto/client-events.js';
import type { ClientAckData, ClientEventName } from '../../protocol/events.js';
import type { AppSocket } from '../socket.types.js';

/**
 * Marks a provider whose `@RealtimeEvent` methods serve client events on these namespaces. The
 * EventRouter finds such providers at start with Nest's DiscoveryService (the way @nestjs/cqrs
 * and @nestjs/schedule find their handlers); a class with this decorator is an ordinary provider
 * of its module, not a Nest `@WebSocketGateway`.
 */
export const RealtimeGateway = DiscoveryService.createDecorator<readonly NamespaceName[]>();

/** Rate-limit behaviour of an event (the bucket itself: RATE_LIMITS, per event name). */
export interface EventRateLimit {
  /** Bucket size for an event that has no row of its own in RATE_LIMITS. */
  maxTokens?: number;
  refillIntervalMs?: number;
  /** Over the limit, answer `{ok: true, data: {}}` and do nothing (message:typing). */
  silent?: boolean;
  /** Do not rate-limit this event at all. */
  skip?: boolean;
}

export interface RealtimeEventOptions {
  /**
   * The class-validator DTO of the payload (whitelist, depth ≤ 8, no `__proto__`), or `null`
   * for an event that takes no payload (`ping`). Taken from `CLIENT_EVENT_DTOS`
   * (src/protocol/dto/client-events.ts), the one table the docs and the event map are checked
   * against; the router refuses to start if a handler names another one.
   */
  dto?: (new () => object) | null;
  /** The payload may be omitted (then validated as `{}`). */
  optionalPayload?: boolean;
  /** Rate limit: RATE_LIMITS' bucket for the event name unless told otherwise. */
  rateLimit?: EventRateLimit;
  /**
   * A fast acceptance check for hot events: true only for payloads the DTO certainly accepts
   * (e.g. `isValidMessageSend`); anything else goes through the DTO, which gives the errors.
   */
  accepts?: (payload: unknown) => boolean;
}

/**
 * A handler: the socket, the validated payload and whether the client passed an ack callback.
 * What it returns (or resolves to) is the ack's `data`.
 */
export type RealtimeEventHandler<E extends ClientEventName> = (
  socket: AppSocket,
  body: never,
  hasAck: boolean,
) => ClientAckData<E> | undefined | Promise<ClientAckData<E> | undefined>;

export interface RealtimeEventMetadata extends RealtimeEventOptions {
  event: ClientEventName;
  dto: (new () => object) | null;
}

export const REALTIME_EVENT = 'white-cross:realtime-event';

/**
 * Serves one client event with this method, through the one pipeline of EventRouter:
 * rate limit → validate → handle → ack or error object → metrics. The return type is checked
 * against the event's ack data in the shared event map.
 */
export function RealtimeEvent<E extends ClientEventName>(
  event: E,
  options: RealtimeEventOptions = {},
) {
  return <H extends RealtimeEventHandler<E>>(
    _target: object,
    _key: string | symbol,
    descriptor: TypedPropertyDescriptor<H>,
  ): void => {
    const dto = options.dto === undefined ? CLIENT_EVENT_DTOS[event] : options.dto;
    const metadata: RealtimeEventMetadata = { ...options, event, dto };
    Reflect.defineMetadata(REALTIME_EVENT, metadata, descriptor.value as object);
  };
}
