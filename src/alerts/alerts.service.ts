import { Injectable } from '@nestjs/common';
import type { ApiPrincipal } from '../auth/api-principal.js';
import type { Alert } from '../protocol/models.js';
import type { EmergencyAlertDto, HealthAlertDto, MedicationReminderDto } from './alert.dto.js';
import { AlertAcknowledgement } from './alert-acknowledgement.service.js';
import { AlertCreation } from './alert-creation.service.js';
import { AlertDelivery } from './alert-delivery.service.js';

export { DEFAULT_ROLES, toAlert, type DeliveryMode } from './alert-row.js';

/**
 * Health alerts (§6, §9, §11) as the controller and gateway use them. The work is split by
 * concern: AlertCreation (the three creation paths, one transaction each), AlertDelivery
 * (emitting, delivery records, metrics and audit, status), AlertReplayHook (hook 40),
 * AlertRedeliveryService (re-sends) and AlertAcknowledgement (acknowledge, resolve).
 */
@Injectable()
export class AlertsService {
  constructor(
    private readonly creation: AlertCreation,
    private readonly delivery: AlertDelivery,
    private readonly acknowledgement: AlertAcknowledgement,
  ) {}

  createEmergency(
    principal: ApiPrincipal,
    dto: EmergencyAlertDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    return this.creation.createEmergency(principal, dto, requestId);
  }

  createMedicationReminder(
    principal: ApiPrincipal,
    dto: MedicationReminderDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    return this.creation.createMedicationReminder(principal, dto, requestId);
  }

  createHealth(
    principal: ApiPrincipal,
    dto: HealthAlertDto,
    requestId?: string,
  ): Promise<{ alert: Alert }> {
    return this.creation.createHealth(principal, dto, requestId);
  }

  acknowledge(
    organizationId: string,
    userId: string,
    alertId: string,
  ): Promise<{ alertId: string; acknowledgedAt: string }> {
    return this.acknowledgement.acknowledge(organizationId, userId, alertId);
  }

  resolve(principal: ApiPrincipal, alertId: string, requestId?: string): Promise<{ alert: Alert }> {
    return this.acknowledgement.resolve(principal, alertId, requestId);
  }

  status(principal: ApiPrincipal, alertId: string): ReturnType<AlertDelivery['status']> {
    return this.delivery.status(principal, alertId);
  }
}
