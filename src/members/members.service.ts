import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { SessionService } from '../sessions/session.service.js';
import type { SessionContext } from '../sessions/session-hooks.js';
import { MembersRepository } from './members.repository.js';

/** How long a (org, user, role) upsert is remembered on this node before it is written again. */
const UPSERT_MEMORY_MS = 60_000;
const MAX_REMEMBERED = 100_000;

/**
 * "Members" of an organization are the users seen connecting with it, with their role (§11). A
 * session hook records them on every connection (both namespaces); roles in notifications and
 * alerts and an admin's rights over a user resolve through them.
 */
@Injectable()
export class MembersService implements OnModuleInit {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly repository: MembersRepository,
    private readonly sessions: SessionService,
    @InjectPinoLogger('members') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.sessions.registerHook({
      name: 'members',
      order: 1,
      namespaces: ['/', '/communication'],
      onConnect: (ctx: SessionContext) =>
        this.seen(ctx.user.organizationId, ctx.user.userId, ctx.user.role),
    });
  }

  /** Records a member; a reconnect storm of the same user and role writes once a minute per node. */
  async seen(organizationId: string, userId: string, role: string): Promise<void> {
    const key = `${organizationId}\u0000${userId}\u0000${role}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < UPSERT_MEMORY_MS) return;
    await this.repository.upsert(organizationId, userId, role);
    if (this.recent.size >= MAX_REMEMBERED) this.recent.clear();
    this.recent.set(key, now);
    this.logger.debug({ organizationId, userId, role }, 'member recorded');
  }

  userIds(organizationId: string): Promise<string[]> {
    return this.repository.userIds(organizationId);
  }

  userIdsWithRoles(organizationId: string, roles: readonly string[]): Promise<string[]> {
    return this.repository.userIdsWithRoles(organizationId, roles);
  }

  isMember(organizationId: string, userId: string): Promise<boolean> {
    return this.repository.isMember(organizationId, userId);
  }

  organizationsOf(userId: string): Promise<string[]> {
    return this.repository.organizationsOf(userId);
  }

  /** userIds ∪ members with any of the roles, without duplicates, in a stable order. */
  async resolveRecipients(
    organizationId: string,
    userIds: readonly string[] = [],
    roles: readonly string[] = [],
  ): Promise<string[]> {
    const byRole = await this.userIdsWithRoles(organizationId, roles);
    return [...new Set([...userIds, ...byRole])];
  }
}
