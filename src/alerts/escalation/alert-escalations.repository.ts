import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { DATABASE, type DatabaseHandle, type Tx } from '../../persistence/database.js';
import { DatabaseErrors } from '../../persistence/database-errors.js';
import { alertEscalations } from '../../persistence/schema.js';

export type EscalationState = 'scheduled' | 'pending' | 'delivered' | 'abandoned' | 'cancelled';
export type StopReason = 'acknowledged' | 'resolved' | 'expired';

/** A row claimed by this node: it alone may attempt it until `claim_expires_at`. */
export interface ClaimedEscalation {
  alertId: string;
  organizationId: string;
  deliveryId: string;
  state: EscalationState;
  attempts: number;
  payload: string | null;
  claimToken: string;
}

export interface StoppedEscalation {
  alertId: string;
  organizationId: string;
  state: 'abandoned' | 'cancelled';
  reason: StopReason;
  attempts: number;
}

export interface EscalationStatus {
  status: 'none' | 'pending' | 'delivered' | 'abandoned';
  attempts: number;
  deliveredAt: string | null;
}

const OPEN = ['scheduled', 'pending'] as const;

/** Claims due rows: FOR UPDATE SKIP LOCKED, so concurrent nodes never pick the same one. */
const CLAIM_SQL = `
UPDATE alert_escalations e
   SET claim_token = $1, claimed_by = $2,
       claim_expires_at = now() + ($3::int * interval '1 millisecond')
 WHERE e.alert_id IN (
   SELECT d.alert_id FROM alert_escalations d
    WHERE d.state IN ('scheduled', 'pending') AND d.next_attempt_at <= now()
      AND (d.claim_expires_at IS NULL OR d.claim_expires_at <= now())
    ORDER BY d.next_attempt_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED)
RETURNING e.alert_id AS "alertId", e.organization_id AS "organizationId",
          e.delivery_id AS "deliveryId", e.state, e.attempts, e.payload,
          e.claim_token AS "claimToken"`;

/**
 * Stops open escalations whose alert was resolved, expired or acknowledged (any recipient), unless
 * a live claim holds them (the holder re-checks before its attempt and records its own outcome).
 * Before the deadline that is `cancelled` (status "none"), after it `abandoned`.
 */
const SWEEP_SQL = `
WITH s AS (
  SELECT e.alert_id,
         CASE WHEN a.resolved_at IS NOT NULL THEN 'resolved'
              WHEN a.expires_at IS NOT NULL AND a.expires_at <= now() THEN 'expired'
              ELSE 'acknowledged' END AS reason
    FROM alert_escalations e JOIN alerts a ON a.id = e.alert_id
   WHERE e.state IN ('scheduled', 'pending')
     AND (e.claim_expires_at IS NULL OR e.claim_expires_at <= now())
     AND (a.resolved_at IS NOT NULL
          OR (a.expires_at IS NOT NULL AND a.expires_at <= now())
          OR EXISTS (SELECT 1 FROM alert_recipients r
                      WHERE r.alert_id = e.alert_id AND r.acknowledged_at IS NOT NULL))
   FOR UPDATE OF e SKIP LOCKED)
UPDATE alert_escalations e
   SET state = CASE WHEN e.state = 'scheduled' THEN 'cancelled' ELSE 'abandoned' END,
       last_outcome = s.reason, finished_at = now(), claim_token = NULL, claim_expires_at = NULL
  FROM s
 WHERE e.alert_id = s.alert_id
RETURNING e.alert_id AS "alertId", e.organization_id AS "organizationId", e.state,
          s.reason, e.attempts`;

/** The row `c` names, while this node's claim on it holds. */
function claimedBy(c: ClaimedEscalation) {
  return and(
    eq(alertEscalations.alertId, c.alertId),
    eq(alertEscalations.claimToken, c.claimToken),
  );
}

/** What every finished attempt writes: counted, its outcome, the claim released. */
function attemptEnded(outcome: string) {
  return {
    attempts: sql`${alertEscalations.attempts} + 1`,
    lastOutcome: outcome,
    claimToken: null,
    claimExpiresAt: null,
  };
}

/** What a stop writes: a scheduled row is cancelled, one mid-attempt abandoned; reason and time. */
function stopColumns(reason: StopReason) {
  return {
    state: sql`CASE WHEN ${alertEscalations.state} = 'scheduled' THEN 'cancelled' ELSE 'abandoned' END`,
    lastOutcome: reason,
    finishedAt: sql`now()`,
  };
}

/**
 * The `alert_escalations` table (migration 0005): the stored outbox of due escalations. Statements
 * outside a transaction fail as AppErrors (DatabaseErrors).
 */
@Injectable()
export class AlertEscalationsRepository {
  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly errors: DatabaseErrors,
  ) {}

  /** Written in the alert's own transaction: the alert and its escalation exist together or not at all. */
  async schedule(
    tx: Tx,
    row: { alertId: string; organizationId: string; dueAt: Date },
  ): Promise<void> {
    await tx.insert(alertEscalations).values({
      alertId: row.alertId,
      organizationId: row.organizationId,
      deliveryId: randomUUID(),
      nextAttemptAt: row.dueAt,
    });
  }

  async claim(nodeId: string, leaseMs: number, limit: number): Promise<ClaimedEscalation[]> {
    return this.errors.run('alert-escalation', async () => {
      return this.database.prepared<ClaimedEscalation>('alert_escalations_claim', CLAIM_SQL, [
        randomUUID(),
        nodeId,
        leaseMs,
        limit,
      ]);
    });
  }

  async sweep(): Promise<StoppedEscalation[]> {
    return this.errors.run('alert-escalation', async () => {
      return this.database.prepared<StoppedEscalation>('alert_escalations_sweep', SWEEP_SQL, []);
    });
  }

  /**
   * Stops an open escalation right away (acknowledgement, resolve). A row in the middle of an
   * attempt is stopped too; if that attempt still gets a 2xx it is recorded as delivered.
   */
  async stop(alertId: string, reason: StopReason): Promise<StoppedEscalation | undefined> {
    return this.errors.run('alert-escalation', async () => {
      const [row] = await this.database.db
        .update(alertEscalations)
        .set(stopColumns(reason))
        .where(and(eq(alertEscalations.alertId, alertId), inArray(alertEscalations.state, OPEN)))
        .returning({
          alertId: alertEscalations.alertId,
          organizationId: alertEscalations.organizationId,
          state: alertEscalations.state,
          attempts: alertEscalations.attempts,
        });
      return row ? { ...row, state: row.state as StoppedEscalation['state'], reason } : undefined;
    });
  }

  /** Like `stop`, by the claim holder (the claim guards against a node that lost its lease). */
  async stopClaimed(
    c: ClaimedEscalation,
    reason: StopReason,
  ): Promise<StoppedEscalation | undefined> {
    return this.errors.run('alert-escalation', async () => {
      const [row] = await this.database.db
        .update(alertEscalations)
        .set({ ...stopColumns(reason), claimToken: null, claimExpiresAt: null })
        .where(this.held(c))
        .returning({ state: alertEscalations.state, attempts: alertEscalations.attempts });
      return row
        ? {
            alertId: c.alertId,
            organizationId: c.organizationId,
            state: row.state as StoppedEscalation['state'],
            reason,
            attempts: row.attempts,
          }
        : undefined;
    });
  }

  /**
   * Before an attempt: the row turns `pending` and keeps the body of its first attempt, so every
   * retry (by any node) sends the same bytes with the same delivery id. Undefined: claim lost.
   */
  async beginAttempt(
    c: ClaimedEscalation,
    payload: string,
    escalatedAt: Date,
  ): Promise<{ payload: string; attempt: number } | undefined> {
    return this.errors.run('alert-escalation', async () => {
      const [row] = await this.database.db
        .update(alertEscalations)
        .set({
          state: 'pending',
          payload: sql`coalesce(${alertEscalations.payload}, ${payload})`,
          escalatedAt: sql`coalesce(${alertEscalations.escalatedAt}, ${escalatedAt.toISOString()}::timestamptz)`,
        })
        .where(this.held(c))
        .returning({ payload: alertEscalations.payload, attempts: alertEscalations.attempts });
      return row?.payload ? { payload: row.payload, attempt: row.attempts + 1 } : undefined;
    });
  }

  /** A 2xx: delivered (also when the alert was stopped while this attempt was in flight). */
  async delivered(
    c: ClaimedEscalation,
    outcome: string,
  ): Promise<{ deliveredAt: Date; escalatedAt: Date; attempts: number } | undefined> {
    return this.errors.run('alert-escalation', async () => {
      const [row] = await this.database.db
        .update(alertEscalations)
        .set({
          ...attemptEnded(outcome),
          state: 'delivered',
          deliveredAt: sql`now()`,
          finishedAt: sql`now()`,
        })
        .where(and(claimedBy(c), inArray(alertEscalations.state, ['pending', 'abandoned'])))
        .returning({
          deliveredAt: alertEscalations.deliveredAt,
          escalatedAt: alertEscalations.escalatedAt,
          attempts: alertEscalations.attempts,
        });
      return row?.deliveredAt && row.escalatedAt
        ? {
            deliveredAt: new Date(row.deliveredAt),
            escalatedAt: new Date(row.escalatedAt),
            attempts: row.attempts,
          }
        : undefined;
    });
  }

  /** A failed attempt: counted, the next one after `delayMs` (database clock), claim released. */
  async failed(
    c: ClaimedEscalation,
    outcome: string,
    delayMs: number,
  ): Promise<{ attempts: number; state: EscalationState } | undefined> {
    return this.errors.run('alert-escalation', async () => {
      const [row] = await this.database.db
        .update(alertEscalations)
        .set({
          ...attemptEnded(outcome),
          nextAttemptAt: sql`now() + (${delayMs}::int * interval '1 millisecond')`,
        })
        .where(claimedBy(c))
        .returning({ attempts: alertEscalations.attempts, state: alertEscalations.state });
      return row ? { attempts: row.attempts, state: row.state as EscalationState } : undefined;
    });
  }

  /** Gives claimed rows back (shutting down before attempting them). */
  async release(c: ClaimedEscalation): Promise<void> {
    return this.errors.run('alert-escalation', async () => {
      await this.database.db
        .update(alertEscalations)
        .set({ claimToken: null, claimExpiresAt: null })
        .where(this.held(c));
    });
  }

  /** `escalation` of `GET /api/v1/alerts/:id`. */
  async status(alertId: string): Promise<EscalationStatus> {
    return this.errors.run('alert-read', async () => {
      const [row] = await this.database.db
        .select({
          state: alertEscalations.state,
          attempts: alertEscalations.attempts,
          deliveredAt: alertEscalations.deliveredAt,
        })
        .from(alertEscalations)
        .where(eq(alertEscalations.alertId, alertId))
        .limit(1);
      const status: EscalationStatus['status'] =
        row?.state === 'pending' || row?.state === 'delivered' || row?.state === 'abandoned'
          ? row.state
          : 'none';
      return {
        status,
        attempts: row?.attempts ?? 0,
        deliveredAt: row?.deliveredAt ? new Date(row.deliveredAt).toISOString() : null,
      };
    });
  }

  private held(c: ClaimedEscalation) {
    return and(claimedBy(c), inArray(alertEscalations.state, OPEN));
  }
}
