import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { assertOrganizationAccess, type ApiPrincipal } from '../auth/api-principal.js';
import { MembersService } from '../members/members.service.js';
import { TransactionRunner } from '../persistence/transaction-runner.js';
import type { Role } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import type { Alert } from '../protocol/models.js';
import { rooms } from '../protocol/rooms.js';
import type { EmergencyAlertDto, HealthAlertDto, MedicationReminderDto } from './alert.dto.js';
import { AlertDelivery } from './alert-delivery.service.js';
import { AlertRecipientsRepository } from './alert-recipients.repository.js';
import { DEFAULT_ROLES, toAlert, type Audience } from './alert-row.js';
import { AlertsRepository, type AlertRow } from './alerts.repository.js';
import { AlertEscalationsRepository } from './escalation/alert-escalations.repository.js';
import { AlertEscalationService } from './escalation/alert-escalation.service.js';

type NewAlert = Omit<
  AlertRow,
  | 'id'
  | 'createdAt'
  | 'createdBy'
  | 'resolvedAt'
  | 'studentId'
  | 'location'
  | 'dueAt'
  | 'expiresAt'
  | 'targeted'
> &
  Partial<Pick<AlertRow, 'studentId' | 'location' | 'dueAt' | 'expiresAt'>>;

/**
 * The three ways an alert is raised (§6, §9, §11): an emergency to the whole organization, a
 * medication reminder or a health alert to users and roles. Each is stored with its pending
 * escalation (§12.7) and its audit record in one transaction before the 202 — a targeted alert
 * with its recipient rows; an emergency's rows (the whole organization) are written right after
 * the commit, while AlertDelivery fans it out.
 */
@Injectable()
export class AlertCreation {
  constructor(
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly escalations: AlertEscalationsRepository,
    private readonly escalation: AlertEscalationService,
    private readonly members: MembersService,
    private readonly delivery: AlertDelivery,
    private readonly audit: AuditService,
    private readonly transactions: TransactionRunner,
  ) {}

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
    const members = await this.members.count(dto.organizationId);
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
      { rooms: [rooms.org(dto.organizationId)], userIds: 'all-members', count: members },
      requestId,
    );
  }

  createMedicationReminder(
    principal: ApiPrincipal,
    dto: MedicationReminderDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    return this.createTargeted(principal, dto, 'medication-reminder', requestId, {
      severity: 'info',
      studentId: dto.studentId,
      dueAt: new Date(dto.dueAt),
    });
  }

  createHealth(
    principal: ApiPrincipal,
    dto: HealthAlertDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    return this.createTargeted(principal, dto, 'health', requestId, {
      severity: dto.severity,
      studentId: dto.studentId,
    });
  }

  /** A medication reminder or health alert: to its users and roles (the kind's default roles). */
  private async createTargeted(
    principal: ApiPrincipal,
    dto: MedicationReminderDto | HealthAlertDto,
    kind: keyof typeof DEFAULT_ROLES,
    requestId: string | undefined,
    values: Pick<NewAlert, 'severity' | 'studentId' | 'dueAt'>,
  ): Promise<{ alert: Alert }> {
    assertOrganizationAccess(principal, dto.organizationId);
    const audience = await this.targeted(
      dto.organizationId,
      dto.userIds,
      dto.roles,
      DEFAULT_ROLES[kind],
    );
    return this.create(
      principal,
      {
        ...values,
        kind,
        organizationId: dto.organizationId,
        title: dto.title,
        message: dto.message,
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
      count: recipients.length,
    };
  }

  private async create(
    principal: ApiPrincipal,
    values: NewAlert,
    audience: Audience,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    const id = randomUUID();
    const createdAt = new Date();
    const escalationDueAt = this.escalation.dueAt(values.kind, values.severity, createdAt);
    const row = await this.transactions.run(async (tx) => {
      const created = await this.alerts.insert(
        { ...values, id, createdAt, createdBy: principal.userId, targeted: audience.count },
        tx,
      );
      // A targeted alert's recipients commit with it: acknowledging needs the row.
      if (audience.userIds !== 'all-members')
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
            targeted: audience.count,
            actorRole: principal.role,
          },
        },
        tx,
      );
      return created;
    });
    // An emergency's rows (every member: 10,000 took 100–200 ms in the transaction, all of it
    // before anyone's screen lit up) follow the commit, started before the emit so that
    // PostgreSQL writes them while this node fans out. Any member may acknowledge an active
    // emergency with or without its row (AlertAcknowledgement).
    const targets =
      audience.userIds === 'all-members'
        ? this.recipients.insertMembersAsTargets(id, values.organizationId)
        : Promise.resolve();
    const alert = toAlert(row);
    this.delivery.send(alert, audience, targets);
    return { alert };
  }
}
