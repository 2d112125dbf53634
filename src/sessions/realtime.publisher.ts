import { Injectable } from '@nestjs/common';
import type { NamespaceName } from '../protocol/constants.js';
import {
  isCommunicationEvent,
  type ServerEventName,
  type ServerEventSpec,
} from '../protocol/events.js';
import { rooms } from '../protocol/rooms.js';
import type { AppServer } from '../gateway/socket.types.js';

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

/**
 * The only code that emits to rooms. Turns "deliver X to these users / this conversation / this
 * org" into room emits on every namespace that serves the event; one emit per namespace to a set
 * of rooms, so a socket in several of them receives the event once. With the Redis adapter the
 * same emit reaches every node.
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

  get io(): AppServer {
    if (!this.server) throw new Error('Socket.IO server not attached yet');
    return this.server;
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
      const nsp = this.io.of(ns);
      // One node and nobody on this namespace: nothing to encode or deliver.
      if (!this.clustered && nsp.sockets.size === 0) continue;
      let op = nsp.to(roomList);
      if (options.except && options.except.length > 0) op = op.except(options.except);
      if (options.volatile) op = op.volatile;
      if (options.local) op = op.local;
      (op.emit as (ev: string, p: unknown) => boolean)(event, payload);
    }
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
    for (const ns of ['/', '/communication'] as const) {
      const nsp = this.io.of(ns);
      if (nsp.sockets.size === 0) continue;
      n += nsp.sockets.size;
      (nsp.local.emit as (ev: string, p: unknown) => boolean)(event, payload);
    }
    return n;
  }

  private userRooms(userIds: Iterable<string>, organizationId: string): string[] {
    const ids = [...new Set(userIds)];
    return ids.map((id) => rooms.member(organizationId, id));
  }
}
