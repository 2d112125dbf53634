import type { NamespaceName } from '../../protocol/constants.js';
import type { AppSocket } from '../socket.types.js';
import type { Session } from './session.js';

/** What a gateway hands a service about the calling connection: ids and user, not the socket. */
export function sessionOf(socket: AppSocket): Session {
  return { id: socket.id, namespace: socket.nsp.name as NamespaceName, user: socket.data.user };
}
