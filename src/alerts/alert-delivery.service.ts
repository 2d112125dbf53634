import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService, type AuditRecord } from '../audit/audit.service.js';
import { assertOrganizationAccess, type ApiPrincipal } from '../auth/api-principal.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { MetricsService } from '../observability/metrics.service.js';
import { AppError } from '../protocol/errors.js';
import type { Alert } from '../protocol/models.js';
import { rooms } from '../protocol/rooms.js';
import { AlertRecipientsRepository, type Sent } from './alert-recipients.repository.js';
import { toAlert, type Audience, type DeliveryMode } from './alert-row.js';
import { AlertsRepository } from './alerts.repository.js';
import {
  AlertEscalationsRepository,
  type EscalationStatus,
} from './escalation/alert-escalations.repository.js';

/**
 * Getting alerts to people and keeping count: the emit to an alert's rooms (first copy,
 * re-send), the delivery records of the users connected at creation, metrics and audit of every
 * delivery, and the status read (`{targeted, delivered, acknowledged}`).
 */
@Injectable()
export class AlertDelivery {
  /** Initial delivery records still being written, by alert id (status reads wait for them). */
  private readonly recording = new Map<string, Promise<void>>();

  constructor(
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly escalations: AlertEscalationsRepository,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger('alerts') private readonly logger: PinoLogger,
  ) {}

  get resendIntervalMs(): number {
    return this.config.alertResendIntervalMs;
  }

  /**
   * A new (stored) alert: emitted to its rooms right after the caller's answer; once its
   * recipient rows are in (`targets`: an emergency's, being written; a targeted alert's committed
   * with it), who was connected is recorded as delivered.
   * The 202 means "stored, being delivered": it waits neither for the fan-out (for 10,000
   * sockets a few hundred milliseconds of this node's CPU; the caller learns sooner that the
   * alert is raised) nor for the records. The emit runs on the next turn of the event loop
   * (setImmediate): after the HTTP answer and the recipient rows' statement were written, so
   * PostgreSQL stores them while this node fans out. A status read on this node waits for the
   * records (read your writes).
   */
  send(alert: Alert, audience: Audience, targets: Promise<void>): void {
    const targetsWritten = targets.catch((err: unknown) =>
      // Mapped and logged by the repository (DatabaseErrors). `targeted` is the alert's own count;
      // a member without a row still gets it live and on connect (replay).
      this.logger.warn(
        { alertId: alert.id, errorName: (err as Error)?.name },
        'alert recipients not recorded',
      ),
    );
    const emitted = new Promise<void>((resolve) =>
      setImmediate(() => {
        try {
          this.emit(audience.rooms, alert);
        } catch (err) {
          // Stored: connected recipients get it with the re-send (emergency) or on reconnect.
          this.logger.error(
            { alertId: alert.id, errorName: (err as Error)?.name },
            'alert emit failed',
          );
        } finally {
          resolve();
        }
      }),
    );
    const recorded = Promise.all([emitted, targetsWritten])
      .then(() => this.recordInitialDeliveries(alert, audience))
      .finally(() => this.recording.delete(alert.id));
    this.recording.set(alert.id, recorded);
  }

  /**
   * Who is connected in the target rooms (every node) got it and counts as delivered. The alert
   * is stored already: a failure here is logged, never an error answer.
   */
  private async recordInitialDeliveries(alert: Alert, audience: Audience): Promise<void> {
    const { id, organizationId } = alert;
    let connected: string[] = [];
    try {
      connected = await this.publisher.usersInRooms(audience.rooms, organizationId);
    } catch (err) {
      this.logger.warn(
        { alertId: id, errorName: (err as Error)?.name },
        'connected recipients unknown',
      );
    }
    let sent: Sent[] = [];
    try {
      sent = await this.recipients.markSent(connected.map((userId) => ({ alertId: id, userId })));
      this.delivered(alert, sent, 'initial');
    } catch (err) {
      this.logger.error(
        { alertId: id, errorName: (err as Error)?.name },
        'alert deliveries not recorded',
      );
    }
    this.logger.info(
      {
        alertId: id,
        organizationId,
        kind: alert.kind,
        targeted: audience.count,
        delivered: sent.length,
      },
      'alert created',
    );
  }

  /** The alert's event to the rooms; an emergency's copy may be flagged. */
  emit(roomList: string[], alert: Alert, flag?: 'replayed' | 'redelivered'): void {
    switch (alert.kind) {
      case 'emergency':
        this.publisher.toRooms(roomList, 'alert:emergency', {
          alert,
          ...(flag ? { [flag]: true as const } : {}),
        });
        return;
      case 'medication-reminder':
        this.publisher.toRooms(roomList, 'alert:medication-reminder', { alert });
        return;
      case 'health':
        this.publisher.toRooms(roomList, 'alert:health', { alert });
        return;
    }
  }

  /** Re-send of an emergency alert to these users' sessions in its organization (every node). */
  redeliver(alert: Alert, userIds: string[]): void {
    this.emit(
      userIds.map((id) => rooms.member(alert.organizationId, id)),
      alert,
      'redelivered',
    );
  }

  /** Metrics and audit trail of deliveries (batched; ids and counts only). */
  delivered(
    alert: Pick<Alert, 'id' | 'kind' | 'organizationId'>,
    sent: Sent[],
    mode: DeliveryMode,
  ): void {
    if (sent.length === 0) return;
    this.metrics.alertDeliveries.inc({ kind: alert.kind, mode }, sent.length);
    for (const s of sent) {
      const record: AuditRecord = {
        organizationId: alert.organizationId,
        action: 'alert.delivered',
        resourceType: 'alert',
        resourceId: alert.id,
        outcome: 'success',
        details: { recipientId: s.userId, mode, deliveryCount: s.deliveryCount },
      };
      this.audit.enqueue(record);
    }
  }

  /** `GET /api/v1/alerts/:id`: the alert, its delivery counts and its escalation. */
  async status(
    principal: ApiPrincipal,
    alertId: string,
  ): Promise<{
    alert: Alert;
    recipients: { targeted: number; delivered: number; acknowledged: number };
    escalation: EscalationStatus;
  }> {
    const row = await this.alerts.find(alertId);
    if (!row) throw AppError.notFound('Alert');
    assertOrganizationAccess(principal, row.organizationId);
    await this.recording.get(alertId);
    return {
      alert: toAlert(row),
      recipients: await this.recipients.counts(row),
      escalation: await this.escalations.status(alertId),
    };
  }
}
