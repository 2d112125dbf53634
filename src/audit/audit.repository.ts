import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type DatabaseHandle, type Tx } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { auditLog } from '../persistence/schema.js';

/** Only ids, counts, flags and enum-like words: never text a user wrote. */
export type AuditDetails = Record<string, string | number | boolean | null>;

/** One row of the `audit_log` table as the service hands it over. */
export interface AuditRow {
  actorId: string | null;
  organizationId: string | null;
  action: string;
  resourceType: string | null;
  resourceId: string | null;
  outcome: 'success' | 'failure' | 'denied';
  requestId: string | null;
  details: AuditDetails | null;
}

const INSERT_BATCH_SQL = `INSERT INTO audit_log
    (actor_id, organization_id, action, resource_type, resource_id, outcome, request_id, details)
  SELECT a, o, act, rt, rid, oc, req, d::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[]) AS t(a, o, act, rt, rid, oc, req, d)`;

/**
 * The `audit_log` table. Failures leave as AppErrors (DatabaseErrors; inside a transaction, the
 * TransactionRunner maps them).
 */
@Injectable()
export class AuditRepository {
  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {}

  /** Rows written with the caller's transaction (drizzle's builder), or on their own. */
  async insert(rows: AuditRow[], tx?: Tx): Promise<void> {
    if (rows.length === 0) return;
    if (tx) await tx.insert(auditLog).values(rows);
    else
      await this.errors.run('audit-insert', () => this.database.db.insert(auditLog).values(rows));
  }

  /**
   * A batch in one fixed-text prepared statement, the columns travelling as arrays: an alert's
   * delivery records in a storm (thousands a second with short re-send intervals) cost drizzle's
   * builder tens of milliseconds per 500-row VALUES list. A failure is logged once per 5 s with
   * how many records it lost.
   */
  async insertBatch(rows: AuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.errors.run(
      'audit-flush',
      () =>
        this.database.prepared('audit_insert_batch', INSERT_BATCH_SQL, [
          rows.map((r) => r.actorId),
          rows.map((r) => r.organizationId),
          rows.map((r) => r.action),
          rows.map((r) => r.resourceType),
          rows.map((r) => r.resourceId),
          rows.map((r) => r.outcome),
          rows.map((r) => r.requestId),
          rows.map((r) => (r.details === null ? null : JSON.stringify(r.details))),
        ]),
      { lost: rows.length },
    );
  }
}
