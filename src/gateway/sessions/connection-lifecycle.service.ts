import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RealtimePublisher } from '../publisher/realtime.publisher.js';
import type { AppSocket } from '../socket.types.js';
import { DependencyLog } from '../../observability/dependency-log.js';
import { MetricsService } from '../../observability/metrics.service.js';
import type { NamespaceName } from '../../protocol/constants.js';
import { AppError } from '../../protocol/errors.js';
import type { AuthenticatedUser } from '../../protocol/models.js';
import { automaticRooms } from '../../protocol/rooms.js';
import { userKeyString } from '../../protocol/user-key.js';
import { ConnectStepRetry } from './connect-step-retry.js';
import {
  CONNECTION_COUNTER,
  type ConnectionCounter,
} from '../../connection-cap/connection-counter.js';
import { HandshakeSlots } from './handshake-slot.js';
import { SessionExpiry } from './session-expiry.service.js';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHook,
  type SessionHookHandlers,
} from '../publisher/session-hooks.js';

/** What hooks see of a socket: ids and user, whether it is still connected — not the socket. */
class SocketSession implements SessionContext {
  readonly #socket: AppSocket;

  constructor(
    socket: AppSocket,
    readonly namespace: NamespaceName,
  ) {
    this.#socket = socket;
  }

  get id(): string {
    return this.#socket.id;
  }

  get user(): AuthenticatedUser {
    return this.#socket.data.user;
  }

  get connected(): boolean {
    return !this.#socket.disconnected;
  }
}

/**
 * §4's connection sequence and the disconnect: rooms, `connection:confirmed`, expiry, then the
 * modules' hooks in order, each one's deliveries sent through the publisher before the next
 * runs; on disconnect the connection slot is given back and the hooks run again. The hooks are
 * the `@ConnectionHook` providers of every module, found at start (DiscoveryService). Nothing
 * here knows about messages or alerts.
 */
@Injectable()
export class ConnectionLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly hooks: SessionHook[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly retries = new ConnectStepRetry();

  constructor(
    private readonly publisher: RealtimePublisher,
    private readonly expiry: SessionExpiry,
    private readonly slots: HandshakeSlots,
    @Inject(CONNECTION_COUNTER) private readonly counter: ConnectionCounter,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('session') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
    private readonly discovery: DiscoveryService,
  ) {}

  /** Every module's `@ConnectionHook` provider (before any socket can connect). */
  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders({ metadataKey: ConnectionHook.KEY })) {
      const name = wrapper.metatype?.name ?? String(wrapper.token);
      const instance = wrapper.instance as SessionHookHandlers | undefined;
      if (!instance || !wrapper.isDependencyTreeStatic())
        throw new Error(`${name}: a @ConnectionHook must be a singleton provider`);
      const options = this.discovery.getMetadataByDecorator(ConnectionHook, wrapper);
      if (!options) continue;
      this.registerHook({
        ...options,
        onConnect: instance.onConnect?.bind(instance),
        onConnectRetry: instance.onConnectRetry?.bind(instance),
        onDisconnect: instance.onDisconnect?.bind(instance),
      });
    }
  }

  /** A hook that is not a provider (tests); providers are found at start (`onModuleInit`). */
  registerHook(hook: SessionHook): void {
    if (this.hooks.some((h) => h.name === hook.name))
      throw new Error(`two session hooks are named "${hook.name}"`);
    this.hooks.push(hook);
    this.hooks.sort((a, b) => a.order - b.order);
  }

  /** §4: rooms, confirmation, then the hooks in order. */
  async onConnection(socket: AppSocket, ns: NamespaceName): Promise<void> {
    const user = socket.data.user;
    this.slots.settle(socket);
    this.metrics.connections.inc({ namespace: ns });
    void socket.join(automaticRooms(user));
    this.expiry.schedule(socket);
    const session = new SocketSession(socket, ns);
    this.publisher.toSession(session, 'connection:confirmed', {
      userId: user.userId,
      organizationId: user.organizationId,
      role: user.role,
      socketId: socket.id,
      serverTime: new Date().toISOString(),
    });
    this.logger.debug(
      { userId: user.userId, organizationId: user.organizationId, ns },
      'connected',
    );
    for (const hook of this.hooks) {
      if (!hook.onConnect || !hook.namespaces.includes(ns) || socket.disconnected) continue;
      try {
        const deliveries = await hook.onConnect(session);
        if (deliveries && deliveries.length > 0) this.publisher.deliver(session, deliveries);
      } catch (err) {
        this.dependencyLog.failed('hook', `connect:${hook.name}`, err);
        if (hook.onConnectRetry && err instanceof AppError && err.type === 'SERVICE_UNAVAILABLE')
          this.retryLater(hook, session);
      }
    }
  }

  /** A connect step the database could not serve: its `onConnectRetry` once it can. */
  private retryLater(hook: SessionHook, session: SocketSession): void {
    const log = { hook: hook.name, userId: session.user.userId };
    this.retries.schedule(
      session,
      async (afterMs) => {
        const deliveries = await hook.onConnectRetry!(session);
        const sent = this.publisher.deliver(session, deliveries);
        this.logger.info({ ...log, sent, afterMs }, 'connect step done after a database failure');
      },
      (afterMs) =>
        this.logger.warn(
          { ...log, afterMs },
          'connect step given up after a database failure: the session gets it at its next connect',
        ),
    );
  }

  onApplicationShutdown(): void {
    this.retries.close();
  }

  onDisconnect(socket: AppSocket, ns: NamespaceName, reason: string): Promise<void> {
    const p = this.runDisconnect(socket, ns, reason);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  private async runDisconnect(socket: AppSocket, ns: NamespaceName, reason: string): Promise<void> {
    const user = socket.data.user;
    if (!user) return;
    this.metrics.connections.dec({ namespace: ns });
    this.expiry.forget(socket);
    await this.counter.release(ns, userKeyString(user), socket.id).catch(() => undefined);
    const session = new SocketSession(socket, ns);
    for (const hook of this.hooks) {
      if (!hook.onDisconnect || !hook.namespaces.includes(ns)) continue;
      try {
        await hook.onDisconnect(session, reason);
      } catch (err) {
        this.dependencyLog.failed('hook', `disconnect:${hook.name}`, err);
      }
    }
  }

  /** Waits until the disconnect hooks started so far (and any they lead to) finished, bounded. */
  async disconnectsSettled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Disconnect handlers start on the next ticks; wait for them, bounded.
    await new Promise((r) => setImmediate(r));
    while (this.pending.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise((r) => setTimeout(r, deadline - Date.now())),
      ]);
      await new Promise((r) => setImmediate(r));
    }
  }
}
