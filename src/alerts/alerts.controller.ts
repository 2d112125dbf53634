import { Body, Controller, Get, HttpCode, Param, Post, UseGuards, UsePipes } from '@nestjs/common';
import { ApiAuthGuard, Principal, type ApiPrincipal } from '../auth/api-auth.guard.js';
import { HttpValidationPipe } from '../http/http-validation.pipe.js';
import { RequestId } from '../http/request-id.js';
import { AppError } from '../protocol/errors.js';
import type { Alert } from '../protocol/models.js';
import { EmergencyAlertDto, HealthAlertDto, MedicationReminderDto } from './alert.dto.js';
import { AlertAcknowledgement } from './alert-acknowledgement.service.js';
import { AlertCreation } from './alert-creation.service.js';
import { AlertDelivery } from './alert-delivery.service.js';

const ALERT_ID = /^[A-Za-z0-9_-]{1,64}$/;

function alertId(id: string): string {
  if (!ALERT_ID.test(id)) throw AppError.notFound('Alert');
  return id;
}

@Controller('api/v1/alerts')
@UseGuards(ApiAuthGuard)
@UsePipes(HttpValidationPipe)
export class AlertsController {
  constructor(
    private readonly creation: AlertCreation,
    private readonly acknowledgement: AlertAcknowledgement,
    private readonly delivery: AlertDelivery,
  ) {}

  @Post('emergency')
  @HttpCode(202)
  emergency(
    @Principal() p: ApiPrincipal,
    @Body() body: EmergencyAlertDto,
    @RequestId() rid: string | undefined,
  ): Promise<{ alert: Alert }> {
    return this.creation.createEmergency(p, body, rid);
  }

  @Post('medication-reminder')
  @HttpCode(202)
  medication(
    @Principal() p: ApiPrincipal,
    @Body() body: MedicationReminderDto,
    @RequestId() rid: string | undefined,
  ): Promise<{ alert: Alert }> {
    return this.creation.createMedicationReminder(p, body, rid);
  }

  @Post('health')
  @HttpCode(202)
  health(
    @Principal() p: ApiPrincipal,
    @Body() body: HealthAlertDto,
    @RequestId() rid: string | undefined,
  ): Promise<{ alert: Alert }> {
    return this.creation.createHealth(p, body, rid);
  }

  @Post(':id/resolve')
  @HttpCode(200)
  resolve(
    @Principal() p: ApiPrincipal,
    @Param('id') id: string,
    @RequestId() rid: string | undefined,
  ): Promise<{ alert: Alert }> {
    return this.acknowledgement.resolve(p, alertId(id), rid);
  }

  @Get(':id')
  status(
    @Principal() p: ApiPrincipal,
    @Param('id') id: string,
  ): ReturnType<AlertDelivery['status']> {
    return this.delivery.status(p, alertId(id));
  }
}
