import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { MembersService } from '../members/members.service.js';
import type { Role } from '../protocol/constants.js';
import type { PresenceEntry, PresenceStatus } from '../protocol/models.js';
import { PRESENCE_STAFF_ROLES, rooms } from '../protocol/rooms.js';
import { CoalescedFanout } from '../gateway/publisher/coalesced-fanout.js';
import type { SessionContext } from '../gateway/publisher/session-hooks.js';
import { PRESENCE_STORE, type PresenceStore } from './presence.store.js';

/**
 * Presence (§4, §5, §11) over the PresenceStore port. Counts `/` sockets only. Emits
 * `presence:changed` only when the user's visible status changes: the first session (online),
 * the last one gone (offline with lastSeenAt), or `presence:update`.
 *
 * Families' online status is private (§12.5): a `parent`'s change goes to the organization's
 * admin, nurse, staff and service sessions (their role rooms) only, everyone else's to
 * `org:<id>`; `presence:query` from a parent reports parents offline with lastSeenAt null.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PRESENCE_STORE) private readonly store: PresenceStore,
    /** Announcements of a connect storm go out together, every 10 ms or more. */
    private readonly announcer: CoalescedFanout,
    private readonly members: MembersService,
    @InjectPinoLogger('presence') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    // Across nodes every change comes from the store, in the order Redis applied it (a dead
    // node's users included, announced by the survivor that reaps it); each node emits it to its
    // own sockets (#12 point 11). A parent's change carries the private flag (§12.5).
    this.store.onChanged?.((organizationId, entry, isPrivate) => {
      void this.changed(organizationId, entry, isPrivate ? 'parent' : undefined, { local: true });
    });
  }

  /** §4 step 3 (PresenceHook): the session is added; a user's first one is announced online. */
  async connected(session: SessionContext): Promise<void> {
    const { id, user } = session;
    const at = new Date();
    const { first } = await this.store.addSession(
      user.organizationId,
      user.userId,
      id,
      at,
      user.role === 'parent',
    );
    if (!session.connected) {
      // Gone while being added: its disconnect hook may have run already. Remove it quietly.
      await this.store.removeSession(user.organizationId, user.userId, id, new Date());
      return;
    }
    if (first && !this.store.announces)
      await this.changed(
        user.organizationId,
        { userId: user.userId, status: 'online', lastSeenAt: at.toISOString() },
        user.role,
      );
  }

  /** The session is gone; the user's last one is announced offline (PresenceHook). */
  async disconnected({ id, user }: SessionContext): Promise<void> {
    const at = new Date();
    if (this.store.announces) {
      // The store decides and announces. Nothing is read first: with Redis down a read would
      // throw and the session would never leave this node's map, so the next resync would write
      // the dead session back (#12 point 3).
      await this.store.removeSession(user.organizationId, user.userId, id, at);
      return;
    }
    const [before] = await this.store.get(user.organizationId, [user.userId]);
    const { last } = await this.store.removeSession(user.organizationId, user.userId, id, at);
    if (last && before.status !== 'offline') {
      await this.changed(
        user.organizationId,
        { userId: user.userId, status: 'offline', lastSeenAt: at.toISOString() },
        user.role,
      );
    }
  }

  /** `presence:update`: online, away, or offline (appear offline); holds while sessions exist. */
  async update(
    organizationId: string,
    userId: string,
    status: PresenceStatus,
    role?: Role,
  ): Promise<{ status: PresenceStatus }> {
    const at = new Date();
    if (this.store.announces) {
      await this.store.setStatus(organizationId, userId, status, at);
      return { status };
    }
    const [before] = await this.store.get(organizationId, [userId]);
    await this.store.setStatus(organizationId, userId, status, at);
    if (before.status !== status)
      await this.changed(organizationId, { userId, status, lastSeenAt: at.toISOString() }, role);
    return { status };
  }

  /**
   * `presence:query`: own organization only; without ids every online or away user. A parent
   * asking learns about non-parent users only (§12.5).
   */
  async query(
    organizationId: string,
    userIds?: string[],
    viewerRole?: Role,
  ): Promise<{ users: PresenceEntry[] }> {
    const users =
      userIds === undefined
        ? await this.store.listActive(organizationId)
        : await this.store.get(organizationId, [...new Set(userIds)]);
    if (viewerRole !== 'parent' || users.length === 0) return { users };
    const parents = new Set(
      await this.members.userIdsWithRolesAmong(
        organizationId,
        ['parent'],
        users.map((u) => u.userId),
      ),
    );
    if (parents.size === 0) return { users };
    if (userIds === undefined) return { users: users.filter((u) => !parents.has(u.userId)) };
    return {
      users: users.map((u) =>
        parents.has(u.userId) ? { userId: u.userId, status: 'offline', lastSeenAt: null } : u,
      ),
    };
  }

  /**
   * Resolves once emitted: coalesced with the other announcements of this 10 ms window. A
   * parent's change goes to the staff roles only (§12.5).
   */
  private changed(
    organizationId: string,
    entry: PresenceEntry,
    role: Role | undefined,
    options: { local?: boolean } = {},
  ): Promise<void> {
    return this.announcer.add((publisher) => {
      if (role === 'parent') {
        publisher.toRooms(
          PRESENCE_STAFF_ROLES.map((r) => rooms.orgRole(organizationId, r)),
          'presence:changed',
          entry,
          options,
        );
      } else {
        publisher.toOrg(organizationId, 'presence:changed', entry, options);
      }
      this.logger.debug(
        { organizationId, userId: entry.userId, status: entry.status },
        'presence changed',
      );
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
