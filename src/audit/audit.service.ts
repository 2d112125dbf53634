import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { DependencyLog } from '../observability/dependency-log.js';
import { DATABASE, type DatabaseHandle, type Tx } from '../persistence/database.js';
import { auditLog } from '../persistence/schema.js';

const AUDIT_BATCH_SQL = `INSERT INTO audit_log
    (actor_id, organization_id, action, resource_type, resource_id, outcome, request_id, details)
  SELECT a, o, act, rt, rid, oc, req, d::jsonb
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[]) AS t(a, o, act, rt, rid, oc, req, d)`;

/** Only ids, counts, flags and enum-like words: never text a user wrote. */
export type AuditDetails = Record<string, string | number | boolean | null>;

export interface AuditRecord {
  actorId?: string | null;
  organizationId?: string | null;
  action: string;
  resourceType?: string;
  resourceId?: string;
  outcome: 'success' | 'failure' | 'denied';
  requestId?: string;
  details?: AuditDetails;
}

/**
 * The audit trail (who, what, when, outcome, request id). `record` inside a transaction writes
 * with it; `enqueue` batches high-volume records (alert deliveries) into multi-row inserts.
 */
@Injectable()
export class AuditService implements OnApplicationShutdown {
  private queue: AuditRecord[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @InjectPinoLogger('audit') private readonly logger: PinoLogger,
    // Optional so that code building the service by hand (specs) needs no change.
    @Optional() private readonly dependencyLog?: DependencyLog,
  ) {}

  private row(r: AuditRecord) {
    return {
      actorId: r.actorId ?? null,
      organizationId: r.organizationId ?? null,
      action: r.action,
      resourceType: r.resourceType ?? null,
      resourceId: r.resourceId ?? null,
      outcome: r.outcome,
      requestId: r.requestId ?? null,
      details: r.details ?? null,
    };
  }

  async record(r: AuditRecord | AuditRecord[], tx?: Tx): Promise<void> {
    const rows = (Array.isArray(r) ? r : [r]).map((x) => this.row(x));
    if (rows.length === 0) return;
    await (tx ?? this.database.db).insert(auditLog).values(rows);
  }

  /**
   * A batch of queued records in one fixed-text prepared statement, the columns travelling as
   * arrays: an alert's delivery records in a storm (thousands a second with short re-send
   * intervals) cost drizzle's builder tens of milliseconds per 500-row VALUES list.
   */
  private async insertBatch(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    const rows = records.map((r) => this.row(r));
    await this.database.prepared('audit_insert_batch', AUDIT_BATCH_SQL, [
      rows.map((r) => r.actorId),
      rows.map((r) => r.organizationId),
      rows.map((r) => r.action),
      rows.map((r) => r.resourceType),
      rows.map((r) => r.resourceId),
      rows.map((r) => r.outcome),
      rows.map((r) => r.requestId),
      rows.map((r) => (r.details === null ? null : JSON.stringify(r.details))),
    ]);
  }

  enqueue(r: AuditRecord): void {
    this.queue.push(r);
    if (this.queue.length >= 500) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), 50);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const batch = this.queue.splice(0, this.queue.length);
    if (batch.length === 0) return;
    this.flushing = (async () => {
      for (let i = 0; i < batch.length; i += 500) {
        try {
          await this.insertBatch(batch.slice(i, i + 500));
        } catch (err) {
          if (this.dependencyLog)
            this.dependencyLog.failed('database', 'audit-flush', err, { lost: batch.length - i });
          else this.logger.error({ errorName: (err as Error)?.name }, 'audit flush failed');
        }
      }
    })();
    await this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
