import { Inject, Injectable } from '@nestjs/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { members } from '../persistence/schema.js';

/** The `members` table: users seen connecting, per organization, with their latest role. */
@Injectable()
export class MembersRepository {
  constructor(@Inject(DATABASE) private readonly database: DatabaseHandle) {}

  async upsert(organizationId: string, userId: string, role: string): Promise<void> {
    await this.database.db
      .insert(members)
      .values({ organizationId, userId, role })
      .onConflictDoUpdate({
        target: [members.organizationId, members.userId],
        set: { role, lastSeenAt: sql`now()` },
      });
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

  async isMember(organizationId: string, userId: string): Promise<boolean> {
    const rows = await this.database.db
      .select({ userId: members.userId })
      .from(members)
      .where(and(eq(members.organizationId, organizationId), eq(members.userId, userId)))
      .limit(1);
    return rows.length > 0;
  }

  async organizationsOf(userId: string): Promise<string[]> {
    const rows = await this.database.db
      .select({ organizationId: members.organizationId })
      .from(members)
      .where(eq(members.userId, userId));
    return rows.map((r) => r.organizationId);
  }
}
