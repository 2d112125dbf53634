import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService } from '../../audit/audit.service.js';
import { APP_CONFIG, type AlertEscalationConfig, type AppConfig } from '../../config/config.js';
import { MetricsService } from '../../observability/metrics.service.js';
import { rooms } from '../../protocol/rooms.js';
import { RealtimePublisher } from '../../gateway/publisher/realtime.publisher.js';
import { AlertRecipientsRepository } from '../alert-recipients.repository.js';
import { AlertsRepository, type AlertRow } from '../alerts.repository.js';
import {
  AlertEscalationsRepository,
  type ClaimedEscalation,
  type StopReason,
  type StoppedEscalation,
} from './alert-escalations.repository.js';
import { backoffMs, postEscalation, type AttemptResult, type EscalationBody } from './webhook.js';

/** Escalations attempted at once by one node. */
const MAX_IN_FLIGHT = 32;
/** Open escalations whose alert stopped needing one are swept at most this often. */
const SWEEP_EVERY_MS = 1000;
/** A failing receiver is logged at most once per window per node, with the suppressed count. */
const WARN_WINDOW_MS = 5000;

/** Whether an alert of this kind and severity escalates (§12.7). */
export function escalates(kind: string, severity: string): boolean {
  return kind === 'emergency' || (kind === 'health' && severity === 'critical');
}

/**
 * Alert escalation (§12.7). Alerts that may escalate get a row in `alert_escalations` in their
 * own creating transaction (`AlertCreation`). Every node polls the table a quarter of
 * ALERT_ESCALATION_AFTER_MS apart (50 … 250 ms), claims due rows with
 * `FOR UPDATE SKIP LOCKED` and a lease (2 × attempt timeout + 2 s), and POSTs the signed body.
 * A node that dies mid-attempt leaves its lease to run out; another node (or the restarted one)
 * then attempts again with the same delivery id and body. Outcomes are written only by the
 * holder of the claim. Hand-written rather than pg-boss or graphile-worker: see
 * docs/alerts-notifications-presence.md ("Escalation").
 */
@Injectable()
export class AlertEscalationService implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private lastSweep = 0;
  private warnWindowStart = 0;
  private warnSuppressed = 0;

  constructor(
    private readonly escalations: AlertEscalationsRepository,
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly appConfig: AppConfig,
    @InjectPinoLogger('alert-escalation') private readonly logger: PinoLogger,
  ) {}

  get config(): AlertEscalationConfig | undefined {
    return this.appConfig.alertEscalation;
  }

  /** The deadline of an alert created now, or undefined when it does not escalate. */
  dueAt(kind: string, severity: string, createdAt: Date): Date | undefined {
    const c = this.config;
    if (!c || !escalates(kind, severity)) return undefined;
    return new Date(createdAt.getTime() + c.afterMs);
  }

  get tickMs(): number {
    return Math.min(250, Math.max(50, Math.floor((this.config?.afterMs ?? 1000) / 4)));
  }

  get leaseMs(): number {
    return 2 * (this.config?.attemptTimeoutMs ?? 5000) + 2000;
  }

  onApplicationBootstrap(): void {
    if (this.config) this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  /** One pass: stop what no longer needs escalating, then claim and start due attempts. */
  tick(): Promise<void> {
    const config = this.config;
    if (!config || this.stopped) return Promise.resolve();
    this.ticking ??= this.pass(config).finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async pass(config: AlertEscalationConfig): Promise<void> {
    try {
      // Acknowledge and resolve stop their escalation at once; the sweep catches expiry (and
      // anything those missed) for rows waiting out a backoff.
      if (Date.now() - this.lastSweep >= SWEEP_EVERY_MS) {
        this.lastSweep = Date.now();
        for (const s of await this.escalations.sweep()) this.recordStop(s);
      }
      const room = MAX_IN_FLIGHT - this.inFlight.size;
      if (room <= 0 || this.stopped) return;
      const claimed = await this.escalations.claim(this.appConfig.nodeId, this.leaseMs, room);
      for (const c of claimed) {
        if (this.stopped) {
          await this.escalations.release(c).catch(() => undefined);
          continue;
        }
        const p: Promise<void> = this.attempt(c, config)
          .catch((err: unknown) => {
            // The lease runs out and the row is attempted again (by any node).
            this.logger.warn(
              { alertId: c.alertId, errorName: (err as Error)?.name },
              'alert escalation attempt not recorded',
            );
          })
          .finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
    } catch (err) {
      this.logger.warn({ errorName: (err as Error)?.name }, 'alert escalation pass failed');
    }
  }

  private async attempt(c: ClaimedEscalation, config: AlertEscalationConfig): Promise<void> {
    const alert = await this.alerts.find(c.alertId);
    if (!alert) return; // deleted: the row went with it (ON DELETE CASCADE)
    const counts = await this.recipients.counts(alert);
    const reason = this.stopReason(alert, counts.acknowledged);
    if (reason) {
      const stopped = await this.escalations.stopClaimed(c, reason);
      if (stopped) this.recordStop(stopped);
      return;
    }
    const escalatedAt = new Date();
    const body: EscalationBody = {
      alertId: alert.id,
      organizationId: alert.organizationId,
      kind: alert.kind,
      severity: alert.severity,
      createdAt: new Date(alert.createdAt).toISOString(),
      targeted: counts.targeted,
      delivered: counts.delivered,
      acknowledged: counts.acknowledged,
      escalatedAt: escalatedAt.toISOString(),
    };
    const begun = await this.escalations.beginAttempt(c, JSON.stringify(body), escalatedAt);
    if (!begun) return; // stopped or taken over meanwhile
    const result = await postEscalation({
      url: config.webhookUrl,
      secret: config.secret,
      body: begun.payload,
      deliveryId: c.deliveryId,
      timeoutMs: config.attemptTimeoutMs,
    });
    const outcome = describe(result);
    this.auditAttempt(c, begun.attempt, result);
    if (result.ok) {
      const done = await this.escalations.delivered(c, outcome);
      this.metrics.alertEscalations.inc({ outcome: 'delivered' });
      if (!done) return;
      const escalatedAtIso = done.escalatedAt.toISOString();
      this.publisher.toRooms([rooms.orgRole(c.organizationId, 'admin')], 'alert:escalated', {
        alertId: c.alertId,
        escalatedAt: escalatedAtIso,
      });
      this.logger.info(
        { alertId: c.alertId, organizationId: c.organizationId, attempts: done.attempts },
        'alert escalated',
      );
      return;
    }
    const delayMs = backoffMs(begun.attempt);
    const failed = await this.escalations.failed(c, outcome, delayMs);
    this.metrics.alertEscalations.inc({ outcome: 'failed' });
    this.warnFailed({
      alertId: c.alertId,
      organizationId: c.organizationId,
      attempt: begun.attempt,
      ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
      ...(result.errorClass !== undefined ? { errorClass: result.errorClass } : {}),
      retryInMs: failed?.state === 'pending' ? delayMs : null,
    });
  }

  private stopReason(alert: AlertRow, acknowledged: number): StopReason | undefined {
    if (alert.resolvedAt !== null) return 'resolved';
    if (alert.expiresAt !== null && new Date(alert.expiresAt).getTime() <= Date.now())
      return 'expired';
    if (acknowledged > 0) return 'acknowledged';
    return undefined;
  }

  /** Acknowledgement or resolve: an open escalation of the alert stops at once. */
  async stop(alertId: string, reason: StopReason): Promise<void> {
    if (!this.config) return;
    try {
      const stopped = await this.escalations.stop(alertId, reason);
      if (stopped) this.recordStop(stopped);
    } catch (err) {
      // The next sweep stops it.
      this.logger.warn(
        { alertId, errorName: (err as Error)?.name },
        'alert escalation not stopped',
      );
    }
  }

  private recordStop(s: StoppedEscalation): void {
    this.metrics.alertEscalations.inc({ outcome: s.state });
    this.audit.enqueue({
      organizationId: s.organizationId,
      action: s.state === 'abandoned' ? 'alert.escalation.abandoned' : 'alert.escalation.cancelled',
      resourceType: 'alert',
      resourceId: s.alertId,
      outcome: 'success',
      details: { reason: s.reason, attempts: s.attempts },
    });
  }

  private auditAttempt(c: ClaimedEscalation, attempt: number, r: AttemptResult): void {
    this.audit.enqueue({
      organizationId: c.organizationId,
      action: 'alert.escalation.attempt',
      resourceType: 'alert',
      resourceId: c.alertId,
      outcome: r.ok ? 'success' : 'failure',
      details: {
        deliveryId: c.deliveryId,
        attempt,
        statusCode: r.statusCode ?? null,
        errorClass: r.errorClass ?? null,
        durationMs: r.durationMs,
        nodeId: this.appConfig.nodeId,
      },
    });
  }

  /** One warning per failed attempt, at most one line per 5 s per node (ids and codes only). */
  private warnFailed(fields: Record<string, string | number | null>): void {
    const now = Date.now();
    if (now - this.warnWindowStart < WARN_WINDOW_MS) {
      this.warnSuppressed++;
      return;
    }
    const suppressed = this.warnSuppressed;
    this.warnWindowStart = now;
    this.warnSuppressed = 0;
    this.logger.warn({ ...fields, suppressed }, 'alert escalation attempt failed');
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    // Attempts under way finish (each is bounded by the attempt timeout) and record their outcome.
    await Promise.allSettled([...this.inFlight]);
  }
}

function describe(r: AttemptResult): string {
  return r.statusCode !== undefined ? `http-${r.statusCode}` : (r.errorClass ?? 'error');
}
