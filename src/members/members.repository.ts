import { Inject, Injectable } from '@nestjs/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db } from '../persistence/database.js';
import { members } from '../persistence/schema.js';

function upsertQuery(db: Db) {
  return db
    .insert(members)
    .values({
      organizationId: sql.placeholder('organizationId'),
      userId: sql.placeholder('userId'),
      role: sql.placeholder('role'),
    })
    .onConflictDoUpdate({
      target: [members.organizationId, members.userId],
      set: { role: sql`excluded.role`, lastSeenAt: sql`now()` },
    })
    .prepare('members_upsert');
}

/** The `members` table: users seen connecting, per organization, with their latest role. */
@Injectable()
export class MembersRepository {
  /**
   * Runs on every connection of a user not seen in the last minute: built once (a prepared
   * statement), as drizzle's query builder allocates tens of KiB per query it builds.
   */
  private readonly upsertStatement: ReturnType<typeof upsertQuery>;

  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {
    this.upsertStatement = upsertQuery(database.db);
  }

  async upsert(organizationId: string, userId: string, role: string): Promise<void> {
    await this.upsertStatement.execute({ organizationId, userId, role });
  }

  async userIds(organizationId: string): Promise<string[]> {
    const rows = await this.database.db
      .select({ userId: members.userId })
      .from(members)
      .where(eq(members.organizationId, organizationId));
    return rows.map((r) => r.userId);
  }

  async userIdsWithRoles(organizationId: string, roles: readonly string[]): Promise<string[]> {
    if (roles.length === 0) return [];
    const rows = await this.database.db
      .select({ userId: members.userId })
      .from(members)
      .where(and(eq(members.organizationId, organizationId), inArray(members.role, [...roles])));
    return rows.map((r) => r.userId);
  }

  /** Those of `userIds` whose recorded role in the organization is one of `roles`. */
  async userIdsWithRolesAmong(
    organizationId: string,
    roles: readonly string[],
    userIds: readonly string[],
  ): Promise<string[]> {
    if (roles.length === 0 || userIds.length === 0) return [];
    const rows = await this.database.db
      .select({ userId: members.userId })
      .from(members)
      .where(
        and(
          eq(members.organizationId, organizationId),
          inArray(members.role, [...roles]),
          inArray(members.userId, [...userIds]),
        ),
      );
    return rows.map((r) => r.userId);
  }

  async isMember(organizationId: string, userId: string): Promise<boolean> {
    const rows = await this.database.db
      .select({ userId: members.userId })
      .from(members)
      .where(and(eq(members.organizationId, organizationId), eq(members.userId, userId)))
      .limit(1);
    return rows.length > 0;
  }
}
