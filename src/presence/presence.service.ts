import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import { RealtimePublisher } from '../sessions/realtime.publisher.js';
import type { SessionContext } from '../sessions/session-hooks.js';
import { SessionService } from '../sessions/session.service.js';
import { PRESENCE_STORE, type PresenceStore } from './presence.store.js';

/**
 * Presence (§4, §5, §11) over the PresenceStore port. Counts `/` sockets only. Emits
 * `presence:changed` to `org:<id>` only when the user's visible status changes: the first
 * session (online), the last one gone (offline with lastSeenAt), or `presence:update`.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PRESENCE_STORE) private readonly store: PresenceStore,
    private readonly sessions: SessionService,
    private readonly publisher: RealtimePublisher,
    @InjectPinoLogger('presence') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.sessions.registerHook({
      name: 'presence',
      order: 10,
      namespaces: ['/'],
      onConnect: (ctx) => this.connected(ctx),
      onDisconnect: (ctx) => this.disconnected(ctx),
    });
    // Across nodes every change comes from the store, in the order Redis applied it; each node
    // emits it to its own sockets (#12 point 11).
    this.store.onChanged?.((organizationId, entry) =>
      this.changed(organizationId, entry, { local: true }),
    );
  }

  private async connected({ socket, user }: SessionContext): Promise<void> {
    const at = new Date();
    const { first } = await this.store.addSession(user.organizationId, user.userId, socket.id, at);
    if (socket.disconnected) {
      // Gone while being added: its disconnect hook may have run already. Remove it quietly.
      await this.store.removeSession(user.organizationId, user.userId, socket.id, new Date());
      return;
    }
    if (first && !this.store.announces)
      this.changed(user.organizationId, {
        userId: user.userId,
        status: 'online',
        lastSeenAt: at.toISOString(),
      });
  }

  private async disconnected({ socket, user }: SessionContext): Promise<void> {
    const at = new Date();
    if (this.store.announces) {
      // The store decides and announces. Nothing is read first: with Redis down a read would
      // throw and the session would never leave this node's map, so the next resync would write
      // the dead session back (#12 point 3).
      await this.store.removeSession(user.organizationId, user.userId, socket.id, at);
      return;
    }
    const [before] = await this.store.get(user.organizationId, [user.userId]);
    const { last } = await this.store.removeSession(
      user.organizationId,
      user.userId,
      socket.id,
      at,
    );
    if (last && before.status !== 'offline') {
      this.changed(user.organizationId, {
        userId: user.userId,
        status: 'offline',
        lastSeenAt: at.toISOString(),
      });
    }
  }

  /** `presence:update`: online, away, or offline (appear offline); holds while sessions exist. */
  async update(
    organizationId: string,
    userId: string,
    status: PresenceStatus,
  ): Promise<{ status: PresenceStatus }> {
    const at = new Date();
    if (this.store.announces) {
      await this.store.setStatus(organizationId, userId, status, at);
      return { status };
    }
    const [before] = await this.store.get(organizationId, [userId]);
    await this.store.setStatus(organizationId, userId, status, at);
    if (before.status !== status)
      this.changed(organizationId, { userId, status, lastSeenAt: at.toISOString() });
    return { status };
  }

  /** `presence:query`: own organization only; without ids every online or away user. */
  async query(organizationId: string, userIds?: string[]): Promise<{ users: PresenceEntry[] }> {
    if (userIds === undefined) return { users: await this.store.listActive(organizationId) };
    return { users: await this.store.get(organizationId, [...new Set(userIds)]) };
  }

  private changed(
    organizationId: string,
    entry: PresenceEntry,
    options: { local?: boolean } = {},
  ): void {
    this.publisher.toOrg(organizationId, 'presence:changed', entry, options);
    this.logger.debug(
      { organizationId, userId: entry.userId, status: entry.status },
      'presence changed',
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
