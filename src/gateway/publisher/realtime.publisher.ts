import { Injectable } from '@nestjs/common';
import { NAMESPACES, type NamespaceName } from '../../protocol/constants.js';
import type { ErrorObject } from '../../protocol/errors.js';
import {
  isCommunicationEvent,
  type ServerEventName,
  type ServerEventSpec,
} from '../../protocol/events.js';
import { rooms } from '../../protocol/rooms.js';
import type { UserKey } from '../../protocol/user-key.js';
import type { AppNamespace, AppServer, AppSocket } from '../socket.types.js';
import { sendDeliveries } from './send-deliveries.js';
import type {
  Delivery,
  PublishOptions,
  Session,
  SessionAddress,
  UserPublishOptions,
} from './session.js';

export type { PublishOptions, UserPublishOptions } from './session.js';

type Emit = (event: string, payload?: unknown) => boolean;

/**
 * The only code that emits, joins, leaves or disconnects: services say what goes to whom (rooms,
 * users of an organization, one session) and ask who is connected; this class turns it into
 * Socket.IO calls. Room emits go once per namespace that serves the event, to a set of rooms, so
 * a socket in several of them receives the event once; with the Redis adapter the same emit
 * reaches every node. Nothing here hands out a socket or the server.
 */
@Injectable()
export class RealtimePublisher {
  private server?: AppServer;
  private clustered = false;

  /** `clustered`: a cluster adapter carries emits to other nodes (Redis). */
  attach(server: AppServer, options: { clustered: boolean } = { clustered: false }): void {
    this.server = server;
    this.clustered = options.clustered;
  }

  private nsp(ns: NamespaceName): AppNamespace {
    if (!this.server) throw new Error('Socket.IO server not attached yet');
    return this.server.of(ns);
  }

  namespacesFor(event: ServerEventName): NamespaceName[] {
    return isCommunicationEvent(event) ? ['/', '/communication'] : ['/'];
  }

  toRooms<E extends ServerEventName>(
    roomList: string[],
    event: E,
    payload: ServerEventSpec[E],
    options: PublishOptions = {},
  ): void {
    if (roomList.length === 0) return;
    for (const ns of this.namespacesFor(event)) {
      const nsp = this.nsp(ns);
      // One node and nobody on this namespace: nothing to encode or deliver.
      if (!this.clustered && nsp.sockets.size === 0) continue;
      let op = nsp.to(roomList);
      if (options.except && options.except.length > 0) op = op.except(options.except);
      if (options.volatile) op = op.volatile;
      if (options.local) op = op.local;
      (op.emit as Emit)(event, payload);
    }
  }

  /** Every session of one user of an organization (§12.1), on every node. */
  toUser<E extends ServerEventName>(
    user: UserKey,
    event: E,
    payload: ServerEventSpec[E],
    options?: PublishOptions,
  ): void {
    this.toRooms([rooms.member(user.organizationId, user.userId)], event, payload, options);
  }

  toUsers<E extends ServerEventName>(
    userIds: Iterable<string>,
    event: E,
    payload: ServerEventSpec[E],
    options: UserPublishOptions,
  ): void {
    this.toRooms(this.userRooms(userIds, options.organizationId), event, payload, options);
  }

  toOrg<E extends ServerEventName>(
    organizationId: string,
    event: E,
    payload: ServerEventSpec[E],
    options?: PublishOptions,
  ): void {
    this.toRooms([rooms.org(organizationId)], event, payload, options);
  }

  /** Every session of every participant plus the conversation room (§6 lifecycle audience). */
  toConversation<E extends ServerEventName>(
    conversationId: string,
    participantIds: Iterable<string>,
    event: E,
    payload: ServerEventSpec[E],
    options: UserPublishOptions,
  ): void {
    this.toRooms(
      [
        rooms.conversation(conversationId),
        ...this.userRooms(participantIds, options.organizationId),
      ],
      event,
      payload,
      options,
    );
  }

  /**
   * This node's own sockets on both namespaces, not through the adapter (e.g. `sync:required`
   * after this node's link to Redis recovered). Returns how many sockets it reached.
   */
  toLocalSockets<E extends ServerEventName>(event: E, payload: ServerEventSpec[E]): number {
    if (!this.server) return 0;
    let n = 0;
    for (const ns of NAMESPACES) {
      const nsp = this.nsp(ns);
      if (nsp.sockets.size === 0) continue;
      n += nsp.sockets.size;
      (nsp.local.emit as Emit)(event, payload);
    }
    return n;
  }

  /** One event to one session of this node; false when it is not connected (any more). */
  toSession<E extends ServerEventName>(
    session: SessionAddress,
    event: E,
    payload: ServerEventSpec[E],
  ): boolean {
    const socket = this.socketOf(session);
    if (!socket) return false;
    (socket.emit as Emit)(event, payload);
    return true;
  }

  /**
   * What a connect hook returned, in order, to its session. A replayed item is not sent again
   * when its live copy reached the session during the connect sequence, and its live copy still
   * on the way is dropped for the session instead (§12.4, delivery-guard.ts). Returns how many
   * were sent; stops when the session is gone.
   */
  deliver(session: SessionAddress, deliveries: readonly Delivery[]): number {
    const socket = this.socketOf(session);
    return socket ? sendDeliveries(socket, deliveries) : 0;
  }

  /** Adds the session to a room; false when it is not connected (any more). */
  async join(session: SessionAddress, room: string): Promise<boolean> {
    const socket = this.socketOf(session);
    if (!socket) return false;
    await socket.join(room);
    return true;
  }

  async leave(session: SessionAddress, room: string): Promise<boolean> {
    const socket = this.socketOf(session);
    if (!socket) return false;
    await socket.leave(room);
    return true;
  }

  /** The rooms a session is in (its own id room included); empty when it is gone. */
  roomsOf(session: SessionAddress): ReadonlySet<string> {
    return this.socketOf(session)?.rooms ?? new Set<string>();
  }

  /**
   * Users of `organizationId` with a session in any of the rooms on `namespace`, on every node
   * (through the adapter: a cluster-wide request with Redis).
   */
  async usersInRooms(
    roomList: string[],
    organizationId: string,
    namespace: NamespaceName = '/',
  ): Promise<string[]> {
    if (roomList.length === 0) return [];
    const sockets = await this.nsp(namespace).in(roomList).fetchSockets();
    const users = new Set<string>();
    for (const s of sockets) {
      const user = s.data.user;
      if (user?.organizationId === organizationId) users.add(user.userId);
    }
    return [...users];
  }

  /**
   * Users with a connected session on `namespace` of this node, by organization; `accept`
   * filters by session id. Empty before the server is attached.
   */
  localUsers(
    namespace: NamespaceName,
    accept: (sessionId: string) => boolean = () => true,
  ): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    if (!this.server) return out;
    for (const socket of this.nsp(namespace).sockets.values()) {
      const user = socket.data.user;
      if (!user || !socket.connected || !accept(socket.id)) continue;
      let set = out.get(user.organizationId);
      if (!set) out.set(user.organizationId, (set = new Set<string>()));
      set.add(user.userId);
    }
    return out;
  }

  /**
   * Ends one session of this node with a server-side disconnect; with `notice`, `auth:expired`
   * carrying it goes first (the client does not retry with the same token). False when the
   * session is not connected here.
   */
  disconnect(session: SessionAddress, notice?: ErrorObject): boolean {
    const socket = this.socketOf(session);
    if (!socket || socket.disconnected) return false;
    this.end(socket, notice);
    return true;
  }

  /**
   * Ends every session of `user` on this node (both namespaces) that `match` accepts, as
   * `disconnect` does; synchronous. Returns how many it ended.
   */
  disconnectUser(
    user: UserKey,
    match: (session: Session) => boolean,
    notice?: ErrorObject,
  ): number {
    if (!this.server) return 0;
    const room = rooms.member(user.organizationId, user.userId);
    let total = 0;
    for (const namespace of NAMESPACES) {
      const nsp = this.nsp(namespace);
      const ids = nsp.adapter.rooms.get(room);
      if (!ids) continue;
      for (const id of [...ids]) {
        const socket = nsp.sockets.get(id);
        if (!socket || socket.disconnected || !socket.data.user) continue;
        if (!match({ id, namespace, user: socket.data.user })) continue;
        this.end(socket, notice);
        total++;
      }
    }
    return total;
  }

  /** Every session of this node (graceful shutdown), all in this tick. Returns how many. */
  disconnectAll(): number {
    if (!this.server) return 0;
    let total = 0;
    for (const ns of NAMESPACES) {
      for (const socket of [...this.nsp(ns).sockets.values()]) {
        socket.disconnect(true);
        total++;
      }
    }
    return total;
  }

  /**
   * Resolves once every engine.io connection of this node has closed, or after `timeoutMs`. A
   * server disconnect is a packet: a polling client only receives it with its next GET, and
   * closing the server before that discards it (the client would see `transport close` and not
   * know it was drained). WebSocket connections close as soon as the packet is written.
   */
  async connectionsClosed(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.server && this.server.engine.clientsCount > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
  }

  private end(socket: AppSocket, notice: ErrorObject | undefined): void {
    if (notice) socket.emit('auth:expired', notice);
    socket.disconnect(true);
  }

  private socketOf(session: SessionAddress): AppSocket | undefined {
    if (!this.server) return undefined;
    return this.nsp(session.namespace).sockets.get(session.id);
  }

  private userRooms(userIds: Iterable<string>, organizationId: string): string[] {
    const ids = [...new Set(userIds)];
    return ids.map((id) => rooms.member(organizationId, id));
  }
}
