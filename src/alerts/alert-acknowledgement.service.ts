import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AuditService } from '../audit/audit.service.js';
import { assertOrganizationAccess, type ApiPrincipal } from '../auth/api-principal.js';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { MetricsService } from '../observability/metrics.service.js';
import { AppError } from '../protocol/errors.js';
import type { Alert } from '../protocol/models.js';
import { rooms } from '../protocol/rooms.js';
import { AlertRecipientsRepository } from './alert-recipients.repository.js';
import { toAlert } from './alert-row.js';
import { AlertsRepository } from './alerts.repository.js';
import { AlertEscalationService, escalates } from './escalation/alert-escalation.service.js';

/**
 * How an alert ends for its recipients: `alert:acknowledge` by a recipient, `resolve` by a
 * service or admin. Either stops the alert's escalation (§12.7).
 */
@Injectable()
export class AlertAcknowledgement {
  constructor(
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly escalation: AlertEscalationService,
    private readonly publisher: RealtimePublisher,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger('alerts') private readonly logger: PinoLogger,
  ) {}

  /** `alert:acknowledge`: recipients only; another organization's alert does not exist. */
  async acknowledge(
    organizationId: string,
    userId: string,
    alertId: string,
  ): Promise<{ alertId: string; acknowledgedAt: string }> {
    const row = await this.alerts.find(alertId);
    if (!row || row.organizationId !== organizationId) throw AppError.notFound('Alert');
    let result = await this.recipients.acknowledge(alertId, userId);
    if (!result && row.kind === 'emergency' && (await this.alerts.isActive(alertId))) {
      // An emergency alert targets the whole organization while it is active.
      await this.recipients.insertAcknowledged(alertId, userId);
      result = await this.recipients.acknowledge(alertId, userId);
      if (result) result = { ...result, first: true };
    }
    if (!result) throw AppError.forbidden('Not a recipient of this alert');
    if (result.first) {
      this.metrics.alertAcknowledgements.inc({ kind: row.kind });
      this.audit.enqueue({
        actorId: userId,
        organizationId,
        action: 'alert.acknowledged',
        resourceType: 'alert',
        resourceId: alertId,
        outcome: 'success',
        details: { kind: row.kind },
      });
      // §12.7: an acknowledgement by any recipient stops the alert's escalation.
      if (escalates(row.kind, row.severity)) await this.escalation.stop(alertId, 'acknowledged');
    }
    return { alertId, acknowledgedAt: result.acknowledgedAt.toISOString() };
  }

  /** Resolve once: `alert:resolved` to the audience; again returns the same and emits nothing. */
  async resolve(
    principal: ApiPrincipal,
    alertId: string,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    const existing = await this.alerts.find(alertId);
    if (!existing) throw AppError.notFound('Alert');
    assertOrganizationAccess(principal, existing.organizationId);
    const resolved = await this.alerts.resolve(alertId, new Date());
    if (!resolved) {
      const current = await this.alerts.find(alertId);
      return { alert: toAlert(current ?? existing) };
    }
    const alert = toAlert(resolved);
    const roomList =
      resolved.kind === 'emergency'
        ? [rooms.org(resolved.organizationId)]
        : (await this.recipients.userIds(alertId)).map((id) =>
            rooms.member(resolved.organizationId, id),
          );
    this.publisher.toRooms(roomList, 'alert:resolved', { alertId, resolvedAt: alert.resolvedAt! });
    await this.audit.record({
      actorId: principal.userId,
      organizationId: resolved.organizationId,
      action: 'alert.resolved',
      resourceType: 'alert',
      resourceId: alertId,
      outcome: 'success',
      ...(requestId ? { requestId } : {}),
      details: { kind: resolved.kind, actorRole: principal.role },
    });
    if (escalates(resolved.kind, resolved.severity))
      await this.escalation.stop(alertId, 'resolved');
    this.logger.info({ alertId, organizationId: resolved.organizationId }, 'alert resolved');
    return { alert };
  }
}
