import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { AlertAcknowledgement } from './alert-acknowledgement.service.js';
import { AlertCreation } from './alert-creation.service.js';
import { AlertDelivery } from './alert-delivery.service.js';
import { AlertRecipientsRepository } from './alert-recipients.repository.js';
import { AlertRedeliveryService } from './alert-redelivery.service.js';
import { AlertReplayHook } from './alert-replay.hook.js';
import { AlertsController } from './alerts.controller.js';
import { AlertsGateway } from './alerts.gateway.js';
import { AlertsRepository } from './alerts.repository.js';
import { AlertEscalationsRepository } from './escalation/alert-escalations.repository.js';
import { AlertEscalationService } from './escalation/alert-escalation.service.js';

@Module({
  imports: [MembersModule],
  controllers: [AlertsController],
  providers: [
    AlertsRepository,
    AlertRecipientsRepository,
    AlertCreation,
    AlertDelivery,
    AlertAcknowledgement,
    AlertReplayHook,
    AlertRedeliveryService,
    AlertsGateway,
    AlertEscalationsRepository,
    AlertEscalationService,
  ],
})
export class AlertsModule {}
