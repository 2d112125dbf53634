import type { NamespaceName } from '../protocol/constants.js';
import type { AuthenticatedUser } from '../protocol/models.js';
import type { AppSocket } from '../gateway/socket.types.js';

export interface SessionContext {
  socket: AppSocket;
  user: AuthenticatedUser;
  namespace: NamespaceName;
}

/**
 * Modules plug into the connection lifecycle with hooks, run in `order` after the socket joined
 * its rooms and got `connection:confirmed` (§4): presence (10), message replay (20), notification
 * sync (30), alert replay (40). A failing hook is logged and does not stop the others.
 */
export interface SessionHook {
  readonly name: string;
  readonly order: number;
  readonly namespaces: readonly NamespaceName[];
  onConnect?(ctx: SessionContext): Promise<void>;
  onDisconnect?(ctx: SessionContext, reason: string): Promise<void>;
}

/**
 * Checks that run in the handshake after the token verified (e.g. revocation). Throw an AppError
 * to refuse the connection.
 */
export interface HandshakeCheck {
  readonly name: string;
  check(user: AuthenticatedUser, namespace: NamespaceName): Promise<void>;
}
