import type { NamespaceName } from '../../protocol/constants.js';
import type { ServerEventName, ServerEventSpec } from '../../protocol/events.js';
import type { AuthenticatedUser } from '../../protocol/models.js';

/** Where one connection lives: its socket id on a namespace of this node. */
export interface SessionAddress {
  readonly id: string;
  readonly namespace: NamespaceName;
}

/** A connection as services see it: who is on it, never the socket itself. */
export interface Session extends SessionAddress {
  readonly user: AuthenticatedUser;
}

/**
 * An item a connect hook replays that the session may also get live (§12.4): a message (its
 * `createdAt` tells whether its live broadcast may still be in flight) or an emergency alert's
 * first copy.
 */
export type ReplayedItem =
  | { readonly kind: 'message'; readonly id: string; readonly createdAt: string }
  | { readonly kind: 'alert'; readonly id: string };

/**
 * One event for one session, as connect hooks return it. With `replay` it is not sent when the
 * item's live copy reached the session during its connect sequence, and a live copy still in
 * flight is dropped for the session afterwards (the publisher applies delivery-guard.ts).
 */
export type Delivery = {
  [E in ServerEventName]: {
    readonly event: E;
    readonly payload: ServerEventSpec[E];
    readonly replay?: ReplayedItem;
  };
}[ServerEventName];

/** A typed Delivery (keeps the event and payload types paired at the call site). */
export function delivery<E extends ServerEventName>(
  event: E,
  payload: ServerEventSpec[E],
  replay?: Delivery['replay'],
): Delivery {
  return (replay ? { event, payload, replay } : { event, payload }) as Delivery;
}

export interface PublishOptions {
  /** Socket ids that must not receive it (e.g. the typing socket). */
  except?: string[];
  /** Fire-and-forget: dropped for sockets that are not ready (typing). */
  volatile?: boolean;
  /** This node's sockets only (the event already reaches every node another way). */
  local?: boolean;
}

/**
 * Deliveries addressed to users name their organization: users are reached through
 * `user:<org>:<id>` (rooms.member), never the bare `user:<id>` that equal ids of two organizations share
 * (invariant 1).
 */
export interface UserPublishOptions extends PublishOptions {
  organizationId: string;
}
