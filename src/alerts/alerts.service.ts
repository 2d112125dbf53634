import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { AppSocket } from '../gateway/socket.types.js';
import { AuditService, type AuditRecord } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { assertOrganizationAccess, type ApiPrincipal } from '../http/api-auth.guard.js';
import { MembersService } from '../members/members.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import type { Role } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import type { Alert, AlertKind, Severity } from '../protocol/models.js';
import { rooms } from '../protocol/rooms.js';
import { deliveryKey, replayOnce } from '../gateway/engine/delivery-guard.js';
import { RealtimePublisher } from '../sessions/realtime.publisher.js';
import type { SessionContext } from '../sessions/session-hooks.js';
import { SessionService } from '../sessions/session.service.js';
import type { EmergencyAlertDto, HealthAlertDto, MedicationReminderDto } from './alert.dto.js';
import { AlertRecipientsRepository, type Sent } from './alert-recipients.repository.js';
import { AlertsRepository, type AlertRow } from './alerts.repository.js';
import {
  AlertEscalationsRepository,
  type EscalationStatus,
} from './escalation/alert-escalations.repository.js';
import { AlertEscalationService, escalates } from './escalation/alert-escalation.service.js';

export type DeliveryMode = 'initial' | 'replayed' | 'redelivered';

export const DEFAULT_ROLES: Record<Exclude<AlertKind, 'emergency'>, Role[]> = {
  'medication-reminder': ['nurse'],
  health: ['nurse', 'admin'],
};

export function toAlert(row: AlertRow): Alert {
  const alert: Alert = {
    id: row.id,
    kind: row.kind as AlertKind,
    organizationId: row.organizationId,
    severity: row.severity as Severity,
    title: row.title,
    message: row.message,
    createdAt: new Date(row.createdAt).toISOString(),
  };
  if (row.studentId !== null) alert.studentId = row.studentId;
  if (row.location !== null) alert.location = row.location;
  if (row.dueAt !== null) alert.dueAt = new Date(row.dueAt).toISOString();
  if (row.expiresAt !== null) alert.expiresAt = new Date(row.expiresAt).toISOString();
  if (row.resolvedAt !== null) alert.resolvedAt = new Date(row.resolvedAt).toISOString();
  return alert;
}

interface Audience {
  /** Rooms the alert is emitted to (one emit, each socket gets it once). */
  rooms: string[];
  /** Recipients known now (members at creation, explicit ids). */
  userIds: string[];
}

/**
 * Health alerts (§6, §9, §11). Each alert is stored with its recipients before the 202, then
 * emitted to its rooms (emergency: the organization; the others: role rooms and the recipients'
 * user rooms). The users connected in those rooms at that moment are recorded as delivered.
 * Active emergency alerts are replayed on connect (hook 40, `/` only) to users who have not
 * acknowledged them; re-sends are in AlertRedeliveryService.
 */
@Injectable()
export class AlertsService implements OnModuleInit {
  private readonly replayedSockets = new WeakSet<AppSocket>();
  /** Initial delivery records still being written, by alert id (status reads wait for them). */
  private readonly recording = new Map<string, Promise<void>>();

  constructor(
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly members: MembersService,
    private readonly publisher: RealtimePublisher,
    private readonly sessions: SessionService,
    private readonly audit: AuditService,
    private readonly metrics: MetricsService,
    private readonly escalation: AlertEscalationService,
    private readonly escalations: AlertEscalationsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectPinoLogger('alerts') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.sessions.registerHook({
      name: 'alert-replay',
      order: 40,
      namespaces: ['/'],
      onConnect: (ctx) => this.replay(ctx),
    });
  }

  async createEmergency(
    principal: ApiPrincipal,
    dto: EmergencyAlertDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    assertOrganizationAccess(principal, dto.organizationId);
    const expiresAt = dto.expiresAt !== undefined ? new Date(dto.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw AppError.validation([{ field: 'expiresAt', constraints: ['minDate'] }]);
    }
    const userIds = await this.members.userIds(dto.organizationId);
    return this.create(
      principal,
      {
        kind: 'emergency',
        organizationId: dto.organizationId,
        severity: dto.severity ?? 'critical',
        title: dto.title,
        message: dto.message,
        location: dto.location ?? null,
        expiresAt,
      },
      { rooms: [rooms.org(dto.organizationId)], userIds },
      requestId,
    );
  }

  async createMedicationReminder(
    principal: ApiPrincipal,
    dto: MedicationReminderDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    assertOrganizationAccess(principal, dto.organizationId);
    const audience = await this.targeted(
      dto.organizationId,
      dto.userIds,
      dto.roles,
      DEFAULT_ROLES['medication-reminder'],
    );
    return this.create(
      principal,
      {
        kind: 'medication-reminder',
        organizationId: dto.organizationId,
        severity: 'info',
        title: dto.title,
        message: dto.message,
        studentId: dto.studentId,
        dueAt: new Date(dto.dueAt),
      },
      audience,
      requestId,
    );
  }

  async createHealth(
    principal: ApiPrincipal,
    dto: HealthAlertDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    assertOrganizationAccess(principal, dto.organizationId);
    const audience = await this.targeted(
      dto.organizationId,
      dto.userIds,
      dto.roles,
      DEFAULT_ROLES.health,
    );
    return this.create(
      principal,
      {
        kind: 'health',
        organizationId: dto.organizationId,
        severity: dto.severity,
        title: dto.title,
        message: dto.message,
        studentId: dto.studentId,
      },
      audience,
      requestId,
    );
  }

  /** userIds ∪ members with the roles; the default roles apply when neither is given. */
  private async targeted(
    organizationId: string,
    userIds: string[] | undefined,
    roles: Role[] | undefined,
    defaults: Role[],
  ): Promise<Audience> {
    const ids = [...new Set(userIds ?? [])];
    const effectiveRoles = [...new Set(roles ?? (ids.length === 0 ? defaults : []))];
    const recipients = await this.members.resolveRecipients(organizationId, ids, effectiveRoles);
    return {
      rooms: [
        ...effectiveRoles.map((r) => rooms.orgRole(organizationId, r)),
        ...ids.map((id) => rooms.member(organizationId, id)),
      ],
      userIds: recipients,
    };
  }

  private async create(
    principal: ApiPrincipal,
    values: Omit<
      AlertRow,
      | 'id'
      | 'createdAt'
      | 'createdBy'
      | 'resolvedAt'
      | 'studentId'
      | 'location'
      | 'dueAt'
      | 'expiresAt'
    > &
      Partial<Pick<AlertRow, 'studentId' | 'location' | 'dueAt' | 'expiresAt'>>,
    audience: Audience,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    const id = randomUUID();
    const createdAt = new Date();
    const escalationDueAt = this.escalation.dueAt(values.kind, values.severity, createdAt);
    const row = await this.alerts.transaction(async (tx) => {
      const created = await this.alerts.insert(
        { ...values, id, createdAt, createdBy: principal.userId },
        tx,
      );
      await this.recipients.insertTargets(id, audience.userIds, tx);
      // §12.7: the pending escalation is stored with the alert (a crash cannot lose it).
      if (escalationDueAt)
        await this.escalations.schedule(tx, {
          alertId: id,
          organizationId: values.organizationId,
          dueAt: escalationDueAt,
        });
      await this.audit.record(
        {
          actorId: principal.userId,
          organizationId: values.organizationId,
          action: 'alert.created',
          resourceType: 'alert',
          resourceId: id,
          outcome: 'success',
          ...(requestId ? { requestId } : {}),
          details: {
            kind: values.kind,
            severity: values.severity,
            targeted: audience.userIds.length,
            actorRole: principal.role,
          },
        },
        tx,
      );
      return created;
    });
    const alert = toAlert(row);
    this.emitAlert(audience.rooms, alert);
    // The answer does not wait for the delivery records (who was connected, one row and audit
    // record each): for a large organization they cost more than the fan-out itself. A status
    // read on this node waits for them (read your writes); re-delivery picks up recipients
    // never marked as sent.
    const recorded = this.recordInitialDeliveries(alert, audience).finally(() =>
      this.recording.delete(id),
    );
    this.recording.set(id, recorded);
    return { alert };
  }

  /**
   * Who is connected in the target rooms (every node) got it and counts as delivered. The alert
   * is stored already: a failure here is logged, never an error answer.
   */
  private async recordInitialDeliveries(alert: Alert, audience: Audience): Promise<void> {
    const { id, organizationId } = alert;
    let connected: string[] = [];
    try {
      const sockets = await this.publisher.io.of('/').in(audience.rooms).fetchSockets();
      connected = [
        ...new Set(
          sockets
            .filter((s) => s.data.user?.organizationId === organizationId)
            .map((s) => s.data.user.userId),
        ),
      ];
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
        targeted: audience.userIds.length,
        delivered: sent.length,
      },
      'alert created',
    );
  }

  private emitAlert(roomList: string[], alert: Alert, flag?: 'replayed' | 'redelivered'): void {
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

  /** Re-send of an emergency alert to these users' sessions in its organization (every node). */
  redeliver(alert: Alert, userIds: string[]): void {
    this.emitAlert(
      userIds.map((id) => rooms.member(alert.organizationId, id)),
      alert,
      'redelivered',
    );
  }

  /** §4 step 4: each active emergency alert of the organization not acknowledged by this user. */
  private async replay({ socket, user }: SessionContext): Promise<void> {
    try {
      const rows = await this.alerts.activeEmergenciesUnacknowledgedBy(
        user.organizationId,
        user.userId,
      );
      if (rows.length === 0 || socket.disconnected) return;
      const sent = await this.recipients.markReplayed(
        rows.map((r) => ({ alertId: r.id, userId: user.userId })),
      );
      for (const row of rows) {
        const alert = toAlert(row);
        // Not again when its live copy reached this socket during the connect sequence; its
        // live copy still on the way is dropped instead (§12.4, delivery-guard.ts).
        replayOnce(socket, deliveryKey.alert(alert.id), true, () =>
          socket.emit('alert:emergency', { alert, replayed: true }),
        );
        this.delivered(
          alert,
          sent.filter((s) => s.alertId === row.id),
          'replayed',
        );
      }
    } finally {
      this.replayedSockets.add(socket);
    }
  }

  /**
   * Whether the socket's connect replay is done. Re-delivery leaves sockets out until then, so a
   * reconnecting user gets the replayed copy first, not a re-send racing it.
   */
  replayDone(socket: AppSocket): boolean {
    return this.replayedSockets.has(socket);
  }

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
      recipients: await this.recipients.counts(alertId),
      escalation: await this.escalations.status(alertId),
    };
  }

  get resendIntervalMs(): number {
    return this.config.alertResendIntervalMs;
  }
}
