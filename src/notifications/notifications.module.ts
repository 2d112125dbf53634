import { Module } from '@nestjs/common';
import { RevocationModule } from '../revocation/revocation.module.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsGateway } from './notifications.gateway.js';
import { NotificationsRepository } from './notifications.repository.js';
import { NotificationsService } from './notifications.service.js';

@Module({
  imports: [RevocationModule],
  controllers: [NotificationsController],
  providers: [NotificationsRepository, NotificationsService, NotificationsGateway],
})
export class NotificationsModule {}
