import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ROLES } from '../protocol/constants.js';
import { MembersRepository } from './members.repository.js';

/** How long a (org, user, role) upsert is remembered on this node before it is written again. */
const UPSERT_MEMORY_SEC = 60;
const MAX_REMEMBERED = 100_000;
const ROLE_CODES = ROLES.length + 1;

/**
 * "Members" of an organization are the users seen connecting with it, with their role (§11). A
 * session hook (MembersHook) records them on every connection (both namespaces); roles in notifications and
 * alerts and an admin's rights over a user resolve through them.
 */
@Injectable()
export class MembersService {
  /**
   * organization → user → (seconds since `epoch`) × ROLE_CODES + role code: a small integer, no
   * key string of its own (the ids are the connection's strings) — one entry per distinct user
   * is part of every idle connection's cost.
   */
  private readonly recent = new Map<string, Map<string, number>>();
  private remembered = 0;
  private readonly epoch = Date.now();

  constructor(
    private readonly repository: MembersRepository,
    @InjectPinoLogger('members') private readonly logger: PinoLogger,
  ) {}

  /** Records a member; a reconnect storm of the same user and role writes once a minute per node. */
  async seen(organizationId: string, userId: string, role: string): Promise<void> {
    const code = ROLES.indexOf(role as (typeof ROLES)[number]) + 1;
    const sec = Math.floor((Date.now() - this.epoch) / 1000);
    const last = this.recent.get(organizationId)?.get(userId);
    if (
      last !== undefined &&
      last % ROLE_CODES === code &&
      code !== 0 &&
      sec - Math.floor(last / ROLE_CODES) < UPSERT_MEMORY_SEC
    )
      return;
    await this.repository.upsert(organizationId, userId, role);
    if (this.remembered >= MAX_REMEMBERED) {
      this.recent.clear();
      this.remembered = 0;
    }
    let users = this.recent.get(organizationId);
    if (!users) this.recent.set(organizationId, (users = new Map<string, number>()));
    if (!users.has(userId)) this.remembered++;
    users.set(userId, sec * ROLE_CODES + code);
    this.logger.debug({ organizationId, userId, role }, 'member recorded');
  }

  count(organizationId: string): Promise<number> {
    return this.repository.count(organizationId);
  }

  userIdsWithRoles(organizationId: string, roles: readonly string[]): Promise<string[]> {
    return this.repository.userIdsWithRoles(organizationId, roles);
  }

  userIdsWithRolesAmong(
    organizationId: string,
    roles: readonly string[],
    userIds: readonly string[],
  ): Promise<string[]> {
    return this.repository.userIdsWithRolesAmong(organizationId, roles, userIds);
  }

  isMember(organizationId: string, userId: string): Promise<boolean> {
    return this.repository.isMember(organizationId, userId);
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
