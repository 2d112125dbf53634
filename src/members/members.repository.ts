import { Inject, Injectable } from '@nestjs/common';
import { and, count, eq, inArray, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Db } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { MicroBatcher } from '../persistence/micro-batcher.js';
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

interface Member {
  organizationId: string;
  userId: string;
  role: string;
}

/**
 * The `members` table: users seen connecting, per organization, with their latest role. Failures
 * leave as AppErrors (DatabaseErrors).
 */
@Injectable()
export class MembersRepository {
  /**
   * Runs on every connection of a user not seen in the last minute: built once (a prepared
   * statement), as drizzle's query builder allocates tens of KiB per query it builds.
   */
  private readonly upsertStatement: ReturnType<typeof upsertQuery>;

  /** A connect storm's upserts, grouped into multi-row statements (micro-batcher.ts). */
  private readonly upserts = new MicroBatcher<Member, void>((batch) => this.upsertMany(batch));

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {
    this.upsertStatement = upsertQuery(database.db);
  }

  upsert(organizationId: string, userId: string, role: string): Promise<void> {
    return this.upserts.load({ organizationId, userId, role });
  }

  /** One statement for the batch; a member named twice keeps the role it was named with last. */
  private async upsertMany(batch: Member[]): Promise<void[]> {
    return this.errors.run('member-upsert', async () => {
      const unique = [
        ...new Map(batch.map((m) => [`${m.organizationId}\u0000${m.userId}`, m])).values(),
      ];
      if (unique.length === 1) await this.upsertStatement.execute({ ...unique[0] });
      else
        await this.database.db
          .insert(members)
          .values(unique)
          .onConflictDoUpdate({
            target: [members.organizationId, members.userId],
            set: { role: sql`excluded.role`, lastSeenAt: sql`now()` },
          });
      return batch.map(() => undefined);
    });
  }

  /** How many members the organization has. */
  async count(organizationId: string): Promise<number> {
    return this.errors.run('member-read', async () => {
      const [row] = await this.database.db
        .select({ n: count() })
        .from(members)
        .where(eq(members.organizationId, organizationId));
      return Number(row?.n ?? 0);
    });
  }

  async userIdsWithRoles(organizationId: string, roles: readonly string[]): Promise<string[]> {
    return this.errors.run('member-read', async () => {
      if (roles.length === 0) return [];
      const rows = await this.database.db
        .select({ userId: members.userId })
        .from(members)
        .where(and(eq(members.organizationId, organizationId), inArray(members.role, [...roles])));
      return rows.map((r) => r.userId);
    });
  }

  /** Those of `userIds` whose recorded role in the organization is one of `roles`. */
  async userIdsWithRolesAmong(
    organizationId: string,
    roles: readonly string[],
    userIds: readonly string[],
  ): Promise<string[]> {
    return this.errors.run('member-read', async () => {
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
    });
  }

  async isMember(organizationId: string, userId: string): Promise<boolean> {
    return this.errors.run('member-read', async () => {
      const rows = await this.database.db
        .select({ userId: members.userId })
        .from(members)
        .where(and(eq(members.organizationId, organizationId), eq(members.userId, userId)))
        .limit(1);
      return rows.length > 0;
    });
  }
}
