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
 * One event for one session, as connect hooks return it. `replay` marks an item the session may
 * also get live (§12.4): it is sent unless its live copy reached the session during the connect
 * sequence, and a live copy still in flight (`inFlight`) is dropped for the session afterwards.
 */
export type Delivery = {
  [E in ServerEventName]: {
    readonly event: E;
    readonly payload: ServerEventSpec[E];
    readonly replay?: { readonly kind: 'message' | 'alert'; readonly id: string; readonly inFlight: boolean };
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
