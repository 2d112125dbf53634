import { DiscoveryService } from '@nestjs/core';
import type { NamespaceName } from '../../protocol/constants.js';
import type { Delivery, Session } from './session.js';

/** The session a hook runs for: who is on it, and whether it is still connected. */
export interface SessionContext extends Session {
  /** False once the session disconnected (check it after slow work). */
  readonly connected: boolean;
}

/** Where a hook runs in §4's sequence, and on which namespaces. */
export interface SessionHookOptions {
  readonly name: string;
  readonly order: number;
  readonly namespaces: readonly NamespaceName[];
}

/** What a hook does; every method is optional. */
export interface SessionHookHandlers {
  onConnect?(ctx: SessionContext): Promise<readonly Delivery[] | void>;
  /**
   * When `onConnect` failed because the database did not answer (SERVICE_UNAVAILABLE): what to
   * send the session once it does, so that it is not left without what it missed. Tried again in
   * the background (connect-step-retry.ts: 1 s, doubling up to 15 s apart, for at most 5 minutes,
   * while the session is connected); the deliveries go out as they are, without the replay guard
   * (the connect sequence has ended), so they must be safe to receive after live events.
   */
  onConnectRetry?(ctx: SessionContext): Promise<readonly Delivery[]>;
  onDisconnect?(ctx: SessionContext, reason: string): Promise<void>;
}

/**
 * Modules plug into the connection lifecycle with hooks, run in `order` after the socket joined
 * its rooms and got `connection:confirmed` (§4): revocation (0), members (1), presence (10),
 * message replay (20), notification sync (30), alert replay (40). A hook returns what to deliver
 * to the new session; the session layer sends it through the publisher before the next hook runs
 * (replayed items under the §12.4 guard). A failing hook is logged and does not stop the others.
 */
export interface SessionHook extends SessionHookOptions, SessionHookHandlers {}

/**
 * Marks a provider as a session hook: a class with `onConnect` / `onConnectRetry` /
 * `onDisconnect` methods (SessionHookHandlers). The connection lifecycle finds every such provider
 * at start with Nest's DiscoveryService, as the EventRouter finds `@RealtimeGateway`s: a module
 * adds a step to §4's sequence by providing a class, without importing the session layer.
 */
export const ConnectionHook = DiscoveryService.createDecorator<SessionHookOptions>();
