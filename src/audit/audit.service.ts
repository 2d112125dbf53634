import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Tx } from '../persistence/database.js';
import { AuditRepository, type AuditDetails, type AuditRow } from './audit.repository.js';

export type { AuditDetails } from './audit.repository.js';

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

/** Records queued before a flush is started at once instead of after the 50 ms timer. */
const BATCH = 500;

/**
 * The audit trail (who, what, when, outcome, request id). `record` inside a transaction writes
 * with it; `enqueue` batches high-volume records (alert deliveries) into one statement per 500.
 */
@Injectable()
export class AuditService implements OnApplicationShutdown {
  private queue: AuditRecord[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;

  constructor(private readonly repository: AuditRepository) {}

  private row(r: AuditRecord): AuditRow {
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
    await this.repository.insert(
      (Array.isArray(r) ? r : [r]).map((x) => this.row(x)),
      tx,
    );
  }

  enqueue(r: AuditRecord): void {
    this.queue.push(r);
    if (this.queue.length >= BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), 50);
  }

  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    const batch = this.queue.splice(0, this.queue.length);
    if (batch.length === 0) return;
    this.flushing = (async () => {
      for (let i = 0; i < batch.length; i += BATCH) {
        // A failed batch is logged by the repository (with how many records it lost) and
        // dropped: the audit trail never holds up, or fails, what it records.
        await this.repository
          .insertBatch(batch.slice(i, i + BATCH).map((r) => this.row(r)))
          .catch(() => undefined);
      }
    })();
    await this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
